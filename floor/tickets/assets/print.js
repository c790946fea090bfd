// The printed ticket (/t/{id}/print): its language, then the ticket drawn; window.hallqReady says when it is ready
// to print. A file of its own: the pages run no inline script (Content-Security-Policy script-src 'self').
import { applyLanguage } from "/assets/floor/hallq.js";
import { renderTicketPage } from "/assets/tickets/issue.js";

applyLanguage();
renderTicketPage();
