// GOV.UK Frontend's components (no inline script: the page's CSP allows none of ours).
import { initAll } from "./vendor/govuk-frontend.min.js";

initAll();
