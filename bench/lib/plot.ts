// Renders Vega-Lite specs to SVG in Node (vega's headless view, no browser, no canvas).
// Not a charting layer: callers write plain Vega-Lite specs.

import * as vega from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}
