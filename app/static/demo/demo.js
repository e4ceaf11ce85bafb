// sockhub demo: show the picture last published on channel "screen-updates".
// Connects over SockJS to the server that served this page. Connection
// parameters (user, timestamp, info, token) come from the URL fragment as the
// JSON `sockhub gentoken` prints; without them the page connects in insecure
// mode (server started with --insecure).
(function () {
  "use strict";
  var CHANNEL = "screen-updates";
  var picture = document.getElementById("picture");
  var caption = document.getElementById("caption");
  var status = document.getElementById("status");

  function setState(state) {
    document.body.setAttribute("data-state", state);
    status.textContent = state;
  }

  // The server's address as this page was reached (scheme, host, port, prefix).
  var base = location.protocol + "//" + location.host + location.pathname.replace(/\/demo\/.*$/, "");

  // The curl example names this server, not a made-up localhost:8000.
  function showHint() {
    var hint = document.getElementById("hint");
    hint.textContent = hint.textContent.replace("http://localhost:8000", base);
  }

  function connectParams() {
    var params = { url: base + "/connection" };
    var fragment = decodeURIComponent(location.hash.slice(1));
    if (fragment) {
      try {
        var given = JSON.parse(fragment);
        params.user = String(given.user);
        params.timestamp = String(given.timestamp);
        params.info = given.info || "";
        params.token = String(given.token);
        return params;
      } catch (e) {
        setState("bad connect parameters in the URL fragment");
      }
    }
    params.insecure = true;
    return params;
  }

  // Only a plain http(s) or same-server URL is shown.
  function showImage(url) {
    if (typeof url !== "string" || !/^(https?:\/\/|\/|[\w.-]+$)/.test(url)) {
      return;
    }
    picture.src = url;
    caption.textContent = url;
    document.body.setAttribute("data-image", url);
  }

  var centrifuge = new Centrifuge(connectParams());
  centrifuge.on("connect", function () { setState("connected"); });
  centrifuge.on("disconnect", function () { setState("disconnected"); });

  var subscription = centrifuge.subscribe(CHANNEL, {
    message: function (message) {
      if (message.data && message.data.image) {
        showImage(message.data.image);
      }
    }
  });
  subscription.on("subscribe", function () { setState("subscribed"); });
  subscription.on("error", function (err) { setState("subscribe error: " + err.error); });

  showHint();
  centrifuge.connect();
}());
