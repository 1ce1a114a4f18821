// Preloaded into the Microsoft 365 Agents Playground (NODE_OPTIONS="--require <this file>")
// so that it listens on 127.0.0.1 only. The Playground (0.2.28) has an option for its
// port (-p, TEAMSAPPTESTER_PORT) but none for its address: it calls
// server.listen(port, callback), which Node takes as "every interface". Here a listen
// that names a port and no host gets 127.0.0.1; one that names a host, or a socket
// path, is left as it is.
"use strict";

const net = require("net");

const LOOPBACK = "127.0.0.1";
const listen = net.Server.prototype.listen;

net.Server.prototype.listen = function listenOnLoopback(...args) {
  const first = args[0];
  if (typeof first === "number" || (typeof first === "string" && /^\d+$/.test(first))) {
    if (typeof args[1] !== "string") {
      args.splice(1, 0, LOOPBACK);
    }
  } else if (first && typeof first === "object" && "port" in first && !first.host) {
    args[0] = { ...first, host: LOOPBACK };
  }
  return listen.apply(this, args);
};
