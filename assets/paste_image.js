// Pasting an image anywhere on the studio adds it as the start image: the file goes into the
// drop zone's file input, which uploads it as if it had been picked.
document.addEventListener("paste", (event) => {
  const image = [...(event.clipboardData?.files || [])].find((file) => file.type.startsWith("image/"));
  const input = document.querySelector("#start-image input[type=file]");
  if (!image || !input) return;
  event.preventDefault();
  const files = new DataTransfer();
  files.items.add(image);
  input.files = files.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
});
