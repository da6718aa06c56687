// Draw every chart on the page from the spec embedded beside it. No network: the Vega bundle is local.
document.querySelectorAll("script[type='application/json'][data-chart]").forEach(function (el) {
  var target = document.getElementById(el.dataset.chart);
  var spec = JSON.parse(el.textContent);
  // ast: Vega interprets its expressions instead of compiling them with new Function(), so the pages'
  // Content-Security-Policy needs no 'unsafe-eval' (the interpreter ships inside vega-embed)
  vegaEmbed(target, spec, { actions: false, renderer: "svg", ast: true }).then(function () {
    target.setAttribute("data-rendered", "true");
  }).catch(function (err) {
    target.textContent = "This chart could not be drawn: " + err.message;
    target.setAttribute("data-rendered", "error");
  });
});
