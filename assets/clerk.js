// Bridges ClerkJS (loaded from the instance's Frontend API when Clerk is configured) and the
// Reflex state: the server asks for the session token and verifies it itself.
window.openvClerk = async function () {
  for (let i = 0; i < 100 && !window.Clerk; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!window.Clerk) return null;
  if (!window.Clerk.loaded) await window.Clerk.load();
  return window.Clerk;
};

window.openvSessionToken = async function () {
  const clerk = await window.openvClerk();
  if (!clerk) return null;
  if (!clerk.session) {
    const panel = document.getElementById("clerk-sign-in");
    if (panel && !panel.dataset.mounted) {
      clerk.mountSignIn(panel, { forceRedirectUrl: window.location.href, signUpForceRedirectUrl: window.location.href });
      panel.dataset.mounted = "1";
    }
    return null;
  }
  window.openvMountUserButton();
  return await clerk.session.getToken();
};

// The button's box appears only once the server has verified the token (the signed-in view):
// the state calls this again then.
window.openvMountUserButton = function () {
  const button = document.getElementById("clerk-user-button");
  if (window.Clerk && window.Clerk.session && button && !button.dataset.mounted) {
    window.Clerk.mountUserButton(button);
    button.dataset.mounted = "1";
  }
};
