// Any other path: say so, with the pages that exist.
"use strict";
IS.start(async () => [
  IS.el("h1", { text: "Not found" }),
  IS.message("There is no page at " + location.pathname + ". The pages are in the bar above; the JSON API is under /api/v1 (documented at /api/v1/openapi.json)."),
]);
