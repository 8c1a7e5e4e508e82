// The WebGPU state pool's prefix cache: a trie of whole pages of prompt ids, each node naming the
// device page that holds that page's rows, so a later prompt with the same prefix attaches the
// pages instead of computing them. Not page references or the budget: state.ts holds those.

interface PrefixNode {
  /** The page's ids, joined: exact, so two prefixes never share a node by a hash collision. */
  readonly key: string;
  readonly page: number;
  readonly parent: PrefixNode | undefined;
  readonly children: Map<string, PrefixNode>;
  lastUse: number;
}

export class PrefixCache {
  private readonly root = new Map<string, PrefixNode>();
  private readonly nodes = new Set<PrefixNode>();
  private clock = 0;

  constructor(private readonly pageRows: number) {}

  /** Pages the cache holds (one reference each). */
  get pages(): number {
    return this.nodes.size;
  }

  private keyOf(ids: Int32Array, b: number): string {
    return ids.subarray(b * this.pageRows, (b + 1) * this.pageRows).join(',');
  }

  /** The pages of the longest cached whole-page prefix of `ids`, at most `most` of them. */
  lookup(ids: Int32Array, most: number): number[] {
    const pages: number[] = [];
    const now = ++this.clock;
    let level = this.root;
    for (let b = 0; b < most && (b + 1) * this.pageRows <= ids.length; b++) {
      const node = level.get(this.keyOf(ids, b));
      if (!node) break;
      node.lastUse = now;
      pages.push(node.page);
      level = node.children;
    }
    return pages;
  }

  /**
   * Caches `pages[b]` as whole page b of `ids`'s prefix, where no node holds that page of the
   * prefix yet. Returns the pages it took (the caller adds a reference to each).
   */
  insert(ids: Int32Array, pages: readonly number[]): number[] {
    const taken: number[] = [];
    const now = ++this.clock;
    let level = this.root;
    let parent: PrefixNode | undefined;
    for (let b = 0; b < pages.length && (b + 1) * this.pageRows <= ids.length; b++) {
      const key = this.keyOf(ids, b);
      let node = level.get(key);
      if (!node) {
        node = { key, page: pages[b]!, parent, children: new Map(), lastUse: now };
        level.set(key, node);
        this.nodes.add(node);
        taken.push(node.page);
      }
      node.lastUse = now;
      parent = node;
      level = node.children;
    }
    return taken;
  }

  /**
   * Removes the least recently used leaf whose page no sequence holds (`onlyCached(page)`), and
   * returns its page (the caller drops the cache's reference); undefined when none can go.
   */
  evict(onlyCached: (page: number) => boolean): number | undefined {
    let best: PrefixNode | undefined;
    for (const n of this.nodes) if (n.children.size === 0 && onlyCached(n.page) && (!best || n.lastUse < best.lastUse)) best = n;
    if (!best) return undefined;
    (best.parent?.children ?? this.root).delete(best.key);
    this.nodes.delete(best);
    return best.page;
  }

  /** Empties the cache; returns every page it held. */
  clear(): number[] {
    const pages = [...this.nodes].map((n) => n.page);
    this.nodes.clear();
    this.root.clear();
    return pages;
  }
}
