"""ClerkJS as the studio uses it (assets/clerk.js: `load`, `session.getToken`, the mount calls,
`signOut`), served in the browser from the instance's Frontend API host by Playwright's routing,
with session tokens signed by the tests' key. Clerk's cloud cannot be reached from here; the
app's server still verifies every token with clerk-backend-api."""

from __future__ import annotations

import base64
import json
from typing import Any

from tests.support.clerk_tokens import ISSUER, TokenMaker

FRONTEND_API_HOST = ISSUER.removeprefix("https://")
PUBLISHABLE_KEY = "pk_test_" + base64.b64encode(f"{FRONTEND_API_HOST}$".encode()).decode().rstrip("=")

CLERKJS_STANDIN = f"""
(() => {{
  const api = "https://{FRONTEND_API_HOST}/v1/standin";
  window.Clerk = {{
    loaded: false,
    session: null,
    async load() {{
      const answer = await fetch(api + "/session");
      if (answer.ok) {{
        const {{ user_id }} = await answer.json();
        this.session = {{
          user: {{ id: user_id }},
          async getToken() {{ return (await (await fetch(api + "/token")).json()).jwt; }},
        }};
      }}
      this.loaded = true;
    }},
    mountSignIn(element) {{ element.textContent = "Clerk's sign-in form"; }},
    mountUserButton(element) {{ element.textContent = "Signed in"; }},
    async signOut() {{ this.session = null; }},
  }};
}})();
"""


def route_clerk(context: Any, maker: TokenMaker, origin: str, user_id: str | None) -> None:
    """Serve ClerkJS and its session for `user_id` (None: signed out) to pages of `context`."""
    cors = {"Access-Control-Allow-Origin": origin}

    def answer(route: Any) -> None:
        path = route.request.url.split(FRONTEND_API_HOST, 1)[1].split("?")[0]
        if path.endswith("clerk.browser.js"):
            route.fulfill(body=CLERKJS_STANDIN, content_type="application/javascript", headers=cors)
        elif path == "/v1/standin/session" and user_id:
            route.fulfill(body=json.dumps({"user_id": user_id}), content_type="application/json", headers=cors)
        elif path == "/v1/standin/token" and user_id:
            jwt = maker.token(sub=user_id, azp=origin)
            route.fulfill(body=json.dumps({"jwt": jwt}), content_type="application/json", headers=cors)
        else:
            route.fulfill(status=404, body="{}", content_type="application/json", headers=cors)

    context.route(f"https://{FRONTEND_API_HOST}/**", answer)
