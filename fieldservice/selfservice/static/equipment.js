// The unit's public page: one-time codes, photos compressed in the browser, the report and "follow my request"
// sent as JSON (API.md "The equipment's public page"). No inline script: the console's CSP applies here too.
(function () {
  "use strict";
  var MAX_PHOTOS = 3;
  var LONG_SIDE = 1600; // px: enough to see a fault, a few hundred KB as JPEG
  var QUALITY = 0.8;
  var body = document.body;

  function say(form, text, ok) {
    var box = form.querySelector("[data-message]");
    box.textContent = text || "";
    box.classList.toggle("ok", !!ok);
  }

  function errorText(answer) {
    var error = (answer && answer.error) || {};
    var parts = [error.message || body.dataset.msgFailed];
    Object.keys(error.fields || {}).forEach(function (name) {
      var label = document.querySelector("[name='" + name + "']");
      var caption = label && label.closest("label") ? label.closest("label").firstChild.textContent.trim() : "";
      parts.push((caption ? caption + ": " : "") + error.fields[name]);
    });
    return parts.join(" ");
  }

  function samePlace(url) {
    // The progress link is built on the public address; the customer stays on the one they came by.
    var link = new URL(url, window.location.href);
    return link.pathname + link.search;
  }

  function post(url, data) {
    return fetch(url, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json" },
      body: JSON.stringify(data),
      credentials: "same-origin",
    }).then(function (response) {
      return response.json().then(
        function (answer) { return { status: response.status, answer: answer }; },
        function () { return { status: response.status, answer: null }; }
      );
    });
  }

  function compress(file) {
    return new Promise(function (resolve, reject) {
      var url = URL.createObjectURL(file);
      var image = new Image();
      image.onload = function () {
        var scale = Math.min(1, LONG_SIDE / Math.max(image.naturalWidth, image.naturalHeight));
        var canvas = document.createElement("canvas");
        canvas.width = Math.max(1, Math.round(image.naturalWidth * scale));
        canvas.height = Math.max(1, Math.round(image.naturalHeight * scale));
        canvas.getContext("2d").drawImage(image, 0, 0, canvas.width, canvas.height);
        URL.revokeObjectURL(url);
        resolve(canvas.toDataURL("image/jpeg", QUALITY));
      };
      image.onerror = function () { URL.revokeObjectURL(url); reject(new Error("not an image")); };
      image.src = url;
    });
  }

  function withOffset(value) {
    // datetime-local has no zone: the phone's own offset is the customer's.
    if (!value) return null;
    var at = new Date(value);
    if (isNaN(at.getTime())) return null;
    var minutes = -at.getTimezoneOffset();
    var sign = minutes >= 0 ? "+" : "-";
    var abs = Math.abs(minutes);
    var pad = function (n) { return (n < 10 ? "0" : "") + n; };
    return value.length === 16 ? value + ":00" + sign + pad(Math.floor(abs / 60)) + ":" + pad(abs % 60) : null;
  }

  document.querySelectorAll("[data-send-code]").forEach(function (button) {
    button.addEventListener("click", function () {
      var form = button.closest("form");
      var phone = form.querySelector("[name=phone]").value.trim();
      if (!phone) { say(form, body.dataset.msgPhone); return; }
      button.disabled = true;
      post(body.dataset.codeUrl, { phone: phone }).then(function (result) {
        if (result.status === 202) say(form, body.dataset.msgSent, true);
        else say(form, errorText(result.answer));
      }, function () { say(form, body.dataset.msgFailed); }).then(function () {
        setTimeout(function () { button.disabled = false; }, 30000);
        if (!form.querySelector("[data-message]").classList.contains("ok")) button.disabled = false;
      });
    });
  });

  var report = document.getElementById("report-form");
  if (report) {
    var fileInput = report.querySelector("[name=photos]");
    fileInput.addEventListener("change", function () {
      var old = report.querySelector(".previews");
      if (old) old.remove();
      if (fileInput.files.length > MAX_PHOTOS) { say(report, body.dataset.msgTooManyPhotos); return; }
      var previews = document.createElement("div");
      previews.className = "previews";
      Array.prototype.forEach.call(fileInput.files, function (file) {
        var img = document.createElement("img");
        img.src = URL.createObjectURL(file);
        img.alt = "";
        previews.appendChild(img);
      });
      fileInput.insertAdjacentElement("afterend", previews);
      say(report, "");
    });

    report.addEventListener("submit", function (event) {
      event.preventDefault();
      var files = Array.prototype.slice.call(fileInput.files, 0);
      if (files.length > MAX_PHOTOS) { say(report, body.dataset.msgTooManyPhotos); return; }
      var submit = report.querySelector("[type=submit]");
      submit.disabled = true;
      say(report, body.dataset.msgSending, true);
      Promise.all(files.map(compress)).then(function (photos) {
        var value = function (name) { var field = report.querySelector("[name=" + name + "]"); return field ? field.value : ""; };
        var data = {
          problem_type: value("problem_type"),
          description: value("description"),
          contact_name: value("contact_name"),
          phone: value("phone"),
          code: value("code"),
          photos: photos,
        };
        if (value("symptom_id")) data.symptom_id = value("symptom_id");
        var start = withOffset(value("preferred_start")), end = withOffset(value("preferred_end"));
        if (start) data.preferred_start = start;
        if (end) data.preferred_end = end;
        return post(body.dataset.reportUrl, data);
      }).then(function (result) {
        if (result.status === 201 || result.status === 200) {
          window.location.assign(samePlace(result.answer.url));
          return;
        }
        say(report, errorText(result.answer));
        submit.disabled = false;
      }, function () {
        say(report, body.dataset.msgFailed);
        submit.disabled = false;
      });
    });
  }

  var follow = document.getElementById("follow-form");
  if (follow) {
    follow.addEventListener("submit", function (event) {
      event.preventDefault();
      var data = {
        phone: follow.querySelector("[name=phone]").value,
        code: follow.querySelector("[name=code]").value,
      };
      post(body.dataset.followUrl, data).then(function (result) {
        if (result.status === 200) window.location.assign(samePlace(result.answer.url));
        else say(follow, errorText(result.answer));
      }, function () { say(follow, body.dataset.msgFailed); });
    });
  }
})();
