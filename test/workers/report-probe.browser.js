// Runs inside the report page (added by report-browser.test.ts): per plot, its SVG texts, its mark
// items with a size, and the ink (non-white pixels) inside the box of its marks once the SVG is drawn
// to a canvas by the browser.
window.expertmeshProbe = async () => {
  const out = [];
  for (const fig of Array.from(document.querySelectorAll('figure[data-plot]'))) {
    const svg = fig.querySelector('svg');
    const texts = Array.from(svg.querySelectorAll('text')).map((t) => t.textContent ?? '');
    const markEls = Array.from(svg.querySelectorAll('.role-mark path, .role-mark rect, .role-mark line')).filter((el) => {
      const b = el.getBBox();
      return b.width > 0 || b.height > 0;
    });
    const svgBox = svg.getBoundingClientRect();
    let x0 = Infinity, y0 = Infinity, x1 = -Infinity, y1 = -Infinity;
    for (const el of markEls) {
      const r = el.getBoundingClientRect();
      x0 = Math.min(x0, r.left - svgBox.left); y0 = Math.min(y0, r.top - svgBox.top);
      x1 = Math.max(x1, r.right - svgBox.left); y1 = Math.max(y1, r.bottom - svgBox.top);
    }
    const img = new Image();
    img.src = `data:image/svg+xml;charset=utf-8,${encodeURIComponent(new XMLSerializer().serializeToString(svg))}`;
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = Math.ceil(svgBox.width);
    canvas.height = Math.ceil(svgBox.height);
    const ctx = canvas.getContext('2d');
    ctx.drawImage(img, 0, 0);
    let ink = 0;
    let area = 0;
    if (markEls.length > 0 && x1 > x0 && y1 > y0) {
      const w = Math.max(1, Math.floor(x1 - x0)), h = Math.max(1, Math.floor(y1 - y0));
      const px = ctx.getImageData(Math.floor(x0), Math.floor(y0), w, h).data;
      area = w * h;
      for (let i = 0; i < px.length; i += 4) if (px[i + 3] > 0 && (px[i] < 240 || px[i + 1] < 240 || px[i + 2] < 240)) ink++;
    }
    out.push({ id: fig.getAttribute('data-plot'), texts, marks: markEls.length, inkPixels: ink, areaPixels: area });
  }
  return out;
};
