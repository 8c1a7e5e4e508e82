// The planner: gives every value of a Graph a slot in a few preallocated buffers, reusing a
// slot once the last node reading its value has run, so a forward pass allocates nothing.
// Sizes are taken at the largest pass the plan serves: tMax tokens in at most bMax segments.

import { evalShape, operandsOf, type Graph } from './ir.js';

export interface Plan {
  readonly graph: Graph;
  readonly tMax: number;
  /** Most segments (sequences) one pass may hold. */
  readonly bMax: number;
  /** Slot sizes in elements; f32 slots and i32 slots are kept apart. */
  readonly slots: readonly { dtype: 'f32' | 'i32'; elements: number }[];
  /** Slot of each value (views share their base's slot). */
  readonly slotOf: readonly number[];
  /** Elements all slots hold together, for reports. */
  readonly totalElements: number;
}

export function plan(graph: Graph, tMax: number, bMax = 1): Plan {
  if (!Number.isInteger(bMax) || bMax < 1 || bMax > tMax) throw new RangeError(`plan: 'bMax' must be an integer in [1, ${tMax}], got ${bMax}`);
  const n = graph.values.length;
  const root = (id: number) => graph.values[id]!.base ?? id;
  const size = (id: number) => evalShape(graph.values[id]!.shape, tMax, 0, bMax).reduce((a, b) => a * b, 1);
  // Last node that reads each root value (the output lives to the end).
  const lastUse = new Array<number>(n).fill(-1);
  graph.nodes.forEach((node, i) => {
    for (const o of operandsOf(node)) if (o.kind === 'value') lastUse[root(o.id)] = Math.max(lastUse[root(o.id)]!, i);
  });
  for (const id of Object.values(graph.outputs)) lastUse[root(id)] = Infinity;
  const need = new Array<number>(n).fill(0);
  for (let id = 0; id < n; id++) need[root(id)] = Math.max(need[root(id)]!, size(id));

  const slots: { dtype: 'f32' | 'i32'; elements: number }[] = [];
  const slotOf = new Array<number>(n).fill(-1);
  const free: number[] = [];
  const take = (id: number) => {
    const dtype = graph.values[id]!.dtype;
    // Best fit among free slots of the dtype, else grow the largest free one, else a new slot.
    let best = -1;
    for (const s of free) {
      if (slots[s]!.dtype !== dtype) continue;
      const fits = slots[s]!.elements >= need[id]!;
      const b = best >= 0 ? slots[best]! : undefined;
      if (best < 0 || (fits && (b!.elements < need[id]! || slots[s]!.elements < b!.elements)) || (!fits && b!.elements < need[id]! && slots[s]!.elements > b!.elements)) best = s;
    }
    if (best < 0) {
      slots.push({ dtype, elements: 0 });
      best = slots.length - 1;
    } else free.splice(free.indexOf(best), 1);
    slots[best]!.elements = Math.max(slots[best]!.elements, need[id]!);
    slotOf[id] = best;
  };
  for (const id of graph.inputs) take(id);
  graph.nodes.forEach((node, i) => {
    if (node.out.kind === 'value' && slotOf[root(node.out.id)]! < 0) take(root(node.out.id));
    // Release after the output is placed: an op never writes into a slot it reads.
    const released = new Set<number>();
    for (const o of operandsOf(node)) if (o.kind === 'value' && lastUse[root(o.id)] === i) released.add(slotOf[root(o.id)]!);
    for (const s of released) free.push(s);
  });
  for (let id = 0; id < n; id++) if (graph.values[id]!.base !== undefined) slotOf[id] = slotOf[root(id)]!;
  return { graph, tMax, bMax, slots, slotOf, totalElements: slots.reduce((a, s) => a + s.elements, 0) };
}
