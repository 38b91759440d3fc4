/** GET /admin/ and its files: the operator console, served to anyone (it asks for the token). */
import { assetRoutes } from "../http/assets.ts";

/** The console's files, by path. */
export const CONSOLE_ASSETS: Record<string, string> = {
  "/admin/": "index.html",
  "/admin/console.js": "console.js",
  "/admin/console.css": "console.css",
};

/** GET /admin/, /admin/console.js, /admin/console.css (to mount at /); GET /admin goes to /admin/. */
export function consoleRoutes() {
  const app = assetRoutes(new URL("./", import.meta.url), CONSOLE_ASSETS);
  app.get("/admin", (c) => c.redirect("/admin/", 301));
  return app;
}
