// Bounds: the caps on live elements — per (source, name), per source, in all allow sets together.
// Every element the book knows is a Slot on three intrusive doubly linked lists (all elements,
// its source's, its name's), oldest-programmed at the head; a refresh moves it to the tail.
// Linking, unlinking and evicting the head are O(1), and a group is dropped when it empties,
// so memory follows the live elements.

export interface BoundLimits {
  /** live elements in all allow sets together */
  maxElements: number;
  /** live elements of one source */
  maxElementsPerSource: number;
  /** live addresses of one (source, name) */
  maxAddressesPerName: number;
}

export type Cap = 'perName' | 'perSource' | 'total';

/** Without limits only the total is capped (the daemon passes the config's, see lib/config). */
export const DEFAULT_LIMITS: BoundLimits = { maxElements: 1_000_000, maxElementsPerSource: Infinity, maxAddressesPerName: Infinity };

/** One element: its life (see expiry.ts) and its place on the lists. */
export class Slot {
  timeoutMs = 0;
  expiresAt = 0;
  src: SourceGroup | null = null;
  grp: NameGroup | null = null;
  gPrev: Slot | null = null;
  gNext: Slot | null = null;
  sPrev: Slot | null = null;
  sNext: Slot | null = null;
  nPrev: Slot | null = null;
  nNext: Slot | null = null;
  constructor(readonly id: string) {}
}

export interface SourceGroup {
  /** the source address bytes, hex */
  key: string;
  count: number;
  head: Slot | null;
  tail: Slot | null;
  names: Map<string, NameGroup>;
}

export interface NameGroup {
  name: string;
  count: number;
  head: Slot | null;
  tail: Slot | null;
  /** elements per address (port rules: one element per allowed port); the cap is addresses × width */
  width: number;
}

/** Called for every element a cap pushed out; the caller deletes it from the kernel. */
export type OnEvict = (slot: Slot, cap: Cap, source: string, name: string | null) => void;

export class Bounds {
  readonly evictions = { perName: 0, perSource: 0, total: 0 };
  readonly limits: BoundLimits;
  private readonly sources = new Map<string, SourceGroup>();
  private head: Slot | null = null;
  private tail: Slot | null = null;
  private count = 0;
  private nameGroups = 0;

  constructor(limits: Partial<BoundLimits>, private readonly onEvict: OnEvict) {
    const l = { ...DEFAULT_LIMITS };
    for (const k of Object.keys(l) as (keyof BoundLimits)[]) {
      const v = limits[k];
      if (typeof v === 'number' && v > 0) l[k] = v === Infinity ? v : Math.max(1, Math.floor(v));
    }
    this.limits = l;
  }

  /** Linked elements, sources, (source, name) groups: what the caps bound. */
  get sizes(): { elements: number; sources: number; names: number } {
    return { elements: this.count, sources: this.sources.size, names: this.nameGroups };
  }

  /**
   * Makes `slot` the newest element of all, of `source` and of `name` (null: name unknown, e.g.
   * adopted from the kernel — only the source and total caps apply until a refresh names it),
   * then evicts the oldest elements of whichever group is over its cap.
   */
  touch(slot: Slot, source: string, name: string | null, width = 1): void {
    if (slot.src && slot.src.key !== source) this.drop(slot);
    this.unlinkGlobal(slot);
    this.linkGlobal(slot);
    let src = slot.src;
    if (src) this.unlinkSource(slot);
    else {
      src = this.sources.get(source) ?? this.newSource(source);
      slot.src = src;
    }
    this.linkSource(src, slot);
    if (slot.grp && (name === null ? false : slot.grp.name !== name)) this.unlinkName(slot);
    let grp = slot.grp;
    if (grp) this.unlinkNameKeep(grp, slot);
    else if (name !== null) {
      grp = src.names.get(name) ?? this.newName(src, name);
      slot.grp = grp;
    }
    if (grp) {
      this.linkName(grp, slot);
      if (width > grp.width) grp.width = width;
      const cap = this.limits.maxAddressesPerName * grp.width;
      while (grp.count > cap && grp.head && grp.head !== slot) this.evict(grp.head, 'perName');
    }
    while (src.count > this.limits.maxElementsPerSource && src.head && src.head !== slot) this.evict(src.head, 'perSource');
    while (this.count > this.limits.maxElements && this.head && this.head !== slot) this.evict(this.head, 'total');
  }

  /** Takes `slot` off every list (expired, removed, or permanent now). */
  drop(slot: Slot): void {
    if (!slot.src) return;
    if (slot.grp) this.unlinkName(slot);
    this.unlinkSource(slot);
    const src = slot.src;
    slot.src = null;
    if (src.count === 0) this.sources.delete(src.key);
    this.unlinkGlobal(slot);
  }

  private evict(victim: Slot, cap: Cap): void {
    const source = victim.src!.key;
    const name = victim.grp ? victim.grp.name : null;
    this.drop(victim);
    this.evictions[cap]++;
    this.onEvict(victim, cap, source, name);
  }

  private newSource(key: string): SourceGroup {
    const g: SourceGroup = { key, count: 0, head: null, tail: null, names: new Map() };
    this.sources.set(key, g);
    return g;
  }

  private newName(src: SourceGroup, name: string): NameGroup {
    const g: NameGroup = { name, count: 0, head: null, tail: null, width: 1 };
    src.names.set(name, g);
    this.nameGroups++;
    return g;
  }

  private linkGlobal(s: Slot): void {
    s.gPrev = this.tail;
    s.gNext = null;
    if (this.tail) this.tail.gNext = s; else this.head = s;
    this.tail = s;
    this.count++;
  }

  private unlinkGlobal(s: Slot): void {
    if (!s.gPrev && this.head !== s) return; // not linked
    if (s.gPrev) s.gPrev.gNext = s.gNext; else this.head = s.gNext;
    if (s.gNext) s.gNext.gPrev = s.gPrev; else this.tail = s.gPrev;
    s.gPrev = s.gNext = null;
    this.count--;
  }

  private linkSource(g: SourceGroup, s: Slot): void {
    s.sPrev = g.tail;
    s.sNext = null;
    if (g.tail) g.tail.sNext = s; else g.head = s;
    g.tail = s;
    g.count++;
  }

  private unlinkSource(s: Slot): void {
    const g = s.src!;
    if (s.sPrev) s.sPrev.sNext = s.sNext; else g.head = s.sNext;
    if (s.sNext) s.sNext.sPrev = s.sPrev; else g.tail = s.sPrev;
    s.sPrev = s.sNext = null;
    g.count--;
  }

  private linkName(g: NameGroup, s: Slot): void {
    s.nPrev = g.tail;
    s.nNext = null;
    if (g.tail) g.tail.nNext = s; else g.head = s;
    g.tail = s;
    g.count++;
  }

  /** Off its name's list, keeping the group (it is re-linked at once). */
  private unlinkNameKeep(g: NameGroup, s: Slot): void {
    if (s.nPrev) s.nPrev.nNext = s.nNext; else g.head = s.nNext;
    if (s.nNext) s.nNext.nPrev = s.nPrev; else g.tail = s.nPrev;
    s.nPrev = s.nNext = null;
    g.count--;
  }

  /** Off its name's list for good; an empty group is dropped. */
  private unlinkName(s: Slot): void {
    const g = s.grp!;
    this.unlinkNameKeep(g, s);
    s.grp = null;
    if (g.count === 0 && s.src) {
      s.src.names.delete(g.name);
      this.nameGroups--;
    }
  }
}
