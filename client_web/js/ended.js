// The stand-alone decoy (what Back, Forward or a reload after an exit lands on): it shows nothing
// of the call and only finishes sending a signal the server has not acknowledged yet.
import { Outbox } from "./outbox.js";

new Outbox(() => null); // resends any stored, unacknowledged signal over HTTP, then forgets it
