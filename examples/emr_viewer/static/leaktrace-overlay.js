// The invisible leaktrace mark for one page view.
//
// The layer (#leaktrace-overlay: position fixed, inset 0, click-through) is
// measured in *device* pixels, the overlay PNG is requested at exactly that
// size, and shown with background-size = PNG size / devicePixelRatio: one
// PNG pixel on one device pixel, no resampling. The size comes from
// ResizeObserver's device-pixel-content-box (exact where CSS size x ratio is
// fractional), checked against CSS size x devicePixelRatio (emulated ratios,
// as in DevTools device mode or headless test drivers, report that box in CSS
// pixels). Resizing, page zoom or a move to another screen changes the device
// size or the ratio and re-requests the PNG (same view, same timestamp; the
// server's cache answers). The record stays hidden (body.lt-awaiting-mark)
// until the first overlay is decoded and painted; if it cannot be loaded the
// record stays hidden. <html data-leaktrace-overlay="WxH@ratio"> tells what
// is on screen ("error" on failure); tests wait on it.
(function () {
  "use strict";
  var layer = document.getElementById("leaktrace-overlay");
  if (!layer) { return; }
  var src = layer.getAttribute("data-src");
  var root = document.documentElement;
  var shown = "";      // "WxH@ratio" painted
  var wanted = "";     // last requested
  var timer = null;
  var lastRatio = window.devicePixelRatio || 1;

  function ratio() { return window.devicePixelRatio || 1; }

  function fail() {
    root.setAttribute("data-leaktrace-overlay", "error");
    document.body.classList.add("lt-mark-failed");
  }

  function paint(url, img, dpr, tag) {
    layer.style.backgroundImage = 'url("' + url + '")';
    layer.style.backgroundSize = (img.naturalWidth / dpr) + "px " + (img.naturalHeight / dpr) + "px";
    requestAnimationFrame(function () {
      requestAnimationFrame(function () {
        if (wanted !== tag) { return; }  // a newer size is on its way
        shown = tag;
        document.body.classList.remove("lt-awaiting-mark");
        root.setAttribute("data-leaktrace-overlay", tag);
      });
    });
  }

  function load(width, height) {
    var dpr = ratio();
    var tag = width + "x" + height + "@" + dpr;
    if (tag === wanted) { return; }
    wanted = tag;
    var url = src + "?w=" + width + "&h=" + height;
    var img = new Image();
    img.onload = function () {
      if (wanted !== tag) { return; }
      var ready = img.decode ? img.decode() : Promise.resolve();
      ready.then(function () { if (wanted === tag) { paint(url, img, dpr, tag); } }, fail);
    };
    img.onerror = fail;
    img.src = url;
  }

  function schedule(width, height) {
    clearTimeout(timer);
    // The first overlay at once; after that, let a resize or zoom settle.
    timer = setTimeout(function () { load(width, height); }, shown ? 120 : 0);
  }

  function measured(entry) {
    var dpr = ratio();
    var rect = entry ? entry.contentRect : layer.getBoundingClientRect();
    var size = [Math.round(rect.width * dpr), Math.round(rect.height * dpr)];
    var box = entry && entry.devicePixelContentBoxSize && entry.devicePixelContentBoxSize[0];
    if (box && Math.abs(box.inlineSize - size[0]) <= 1 && Math.abs(box.blockSize - size[1]) <= 1) {
      size = [box.inlineSize, box.blockSize];
    }
    return size;
  }

  function ratioChanged() {
    if (ratio() === lastRatio) { return; }
    lastRatio = ratio();
    var size = measured(null);
    schedule(size[0], size[1]);
  }

  // Page zoom changes the ratio while the layer keeps its device size (the
  // CSS viewport shrinks by the same factor): no resize is observed, but
  // background-size, in CSS pixels, must follow.
  function watchRatio() {
    if (!window.matchMedia) { return; }
    var query = window.matchMedia("(resolution: " + ratio() + "dppx)");
    var onChange = function () {
      if (query.removeEventListener) { query.removeEventListener("change", onChange); }
      ratioChanged();
      watchRatio();
    };
    if (query.addEventListener) { query.addEventListener("change", onChange); }
  }
  watchRatio();
  // Some engines (and emulated ratios) miss the media query change: check
  // once a second as well; it costs nothing.
  setInterval(ratioChanged, 1000);

  if (typeof ResizeObserver === "function") {
    var observer = new ResizeObserver(function (entries) {
      var size = measured(entries[entries.length - 1]);
      schedule(size[0], size[1]);
    });
    try {
      observer.observe(layer, { box: "device-pixel-content-box" });
    } catch (e) {
      observer.observe(layer);  // no device-pixel boxes (Safari): rounded CSS size x ratio
    }
  } else {
    var size = measured(null);
    schedule(size[0], size[1]);
    window.addEventListener("resize", function () { var s = measured(null); schedule(s[0], s[1]); });
  }
})();
