//! The principals' first-seen state in a fixed memory budget: a slab of 40-byte profiles indexed
//! by a `HashTable<u32>` (the key lives once, in the profile), each profile's known values as
//! sorted 32-bit tagged fingerprints in a block of a size-class pool, and a doubly-linked
//! recency list through the slab, so the least recently seen principal is evicted first.

use hashbrown::HashTable;

/// What kind of value a fingerprint is (its top three bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ValueKind {
    /// A source address (prefix).
    SourceIp = 0,
    /// A region.
    Region = 1,
    /// A user-agent family.
    UserAgent = 2,
    /// An `eventSource:eventName`.
    Api = 3,
    /// A long-term access key.
    AccessKey = 4,
}

impl ValueKind {
    /// Most values of a kind one principal keeps; beyond that the kind is "saturated" (a
    /// principal that has used this many is not one a new value says much about) and no longer
    /// reported, which also bounds a profile's size.
    pub fn limit(self) -> usize {
        match self {
            ValueKind::SourceIp => 48,
            ValueKind::Region => 24,
            ValueKind::UserAgent => 16,
            ValueKind::Api => 320,
            ValueKind::AccessKey => 8,
        }
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }

    /// The tagged fingerprint of a value hash.
    pub fn tag(self, hash: u64) -> u32 {
        ((self as u32) << 29) | ((hash >> 35) as u32 & 0x1FFF_FFFF)
    }
}

const NONE: u32 = u32::MAX;
/// Smallest block: 4 values; class `c` holds `4 << c`.
const CLASSES: usize = 8;
/// The largest block's size: more than every kind's limit together.
const MAX_VALUES: usize = 4 << (CLASSES - 1);

/// One principal.
#[derive(Debug, Clone, Copy)]
struct Profile {
    key: u64,
    /// Event time it was first seen, seconds since the epoch.
    first_s: u32,
    events: u32,
    prev: u32,
    next: u32,
    /// Start of its block in `pool[class]`.
    block: u32,
    len: u16,
    class: u8,
    saturated: u8,
    /// Event time of its latest new API, seconds.
    api_grew_s: u32,
}

const PROFILE_BYTES: usize = std::mem::size_of::<Profile>();
/// A `HashTable<u32>` slot (value and control byte) at a typical load.
const INDEX_BYTES: usize = 8;

/// What a lookup found for one value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// Known already (or its kind is saturated).
    Known,
    /// New, and now remembered.
    New,
}

/// A principal's learning state when observed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    /// Its slot (valid until the next eviction).
    pub slot: u32,
    /// Event time first seen, seconds.
    pub first_s: u32,
    /// Events seen, this one included.
    pub events: u32,
}

/// A principal as the state file keeps it (besides its values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exported {
    /// Fingerprint of the principal.
    pub key: u64,
    /// First seen, seconds.
    pub first_s: u32,
    /// Events seen.
    pub events: u32,
    /// Saturated kinds (bits).
    pub saturated: u8,
    /// Latest new API, seconds.
    pub api_grew_s: u32,
}

/// The table.
#[derive(Debug)]
pub struct Principals {
    index: HashTable<u32>,
    slab: Vec<Profile>,
    free_slots: Vec<u32>,
    pool: [Vec<u32>; CLASSES],
    free_blocks: [Vec<u32>; CLASSES],
    /// Most recently seen.
    head: u32,
    /// Least recently seen.
    tail: u32,
    live: usize,
    used_bytes: usize,
    max_bytes: usize,
    /// Principals evicted so far.
    pub evicted: u64,
}

impl Principals {
    /// An empty table that keeps its memory under `max_bytes`.
    pub fn new(max_bytes: usize) -> Principals {
        Principals {
            index: HashTable::new(),
            slab: Vec::new(),
            free_slots: Vec::new(),
            pool: Default::default(),
            free_blocks: Default::default(),
            head: NONE,
            tail: NONE,
            live: 0,
            used_bytes: 0,
            max_bytes,
            evicted: 0,
        }
    }

    /// Principals held.
    pub fn len(&self) -> usize {
        self.live
    }

    /// Whether none is held.
    pub fn is_empty(&self) -> bool {
        self.live == 0
    }

    /// Bytes of state accounted (profiles, index and value blocks in use).
    pub fn used_bytes(&self) -> usize {
        self.used_bytes
    }

    fn block_bytes(class: u8) -> usize {
        (4usize << class) * 4
    }

    fn find(&self, key: u64) -> Option<u32> {
        let slab = &self.slab;
        self.index
            .find(key, |&s| slab[s as usize].key == key)
            .copied()
    }

    /// Records an event of principal `key` at `time_s`, making it the most recently seen;
    /// creates it (evicting the least recently seen while over budget) when new.
    pub fn touch(&mut self, key: u64, time_s: u32) -> Touch {
        let slot = match self.find(key) {
            Some(s) => {
                self.unlink(s);
                s
            }
            None => self.insert(key, time_s),
        };
        self.push_front(slot);
        let p = &mut self.slab[slot as usize];
        p.events = p.events.saturating_add(1);
        // Events may arrive slightly out of order: first seen is the earliest time.
        p.first_s = p.first_s.min(time_s);
        Touch {
            slot,
            first_s: p.first_s,
            events: p.events,
        }
    }

    fn insert(&mut self, key: u64, first_s: u32) -> u32 {
        self.used_bytes += PROFILE_BYTES + INDEX_BYTES;
        while self.used_bytes > self.max_bytes && self.tail != NONE {
            self.evict(self.tail);
        }
        let p = Profile {
            key,
            first_s,
            events: 0,
            prev: NONE,
            next: NONE,
            block: NONE,
            len: 0,
            class: 0,
            saturated: 0,
            api_grew_s: first_s,
        };
        let slot = match self.free_slots.pop() {
            Some(s) => {
                self.slab[s as usize] = p;
                s
            }
            None => {
                self.slab.push(p);
                (self.slab.len() - 1) as u32
            }
        };
        let slab = &self.slab;
        self.index
            .insert_unique(key, slot, |&s| slab[s as usize].key);
        self.live += 1;
        slot
    }

    fn evict(&mut self, slot: u32) {
        self.unlink(slot);
        let p = self.slab[slot as usize];
        if let Ok(entry) = self.index.find_entry(p.key, |&s| s == slot) {
            entry.remove();
        }
        if p.block != NONE {
            self.free_blocks[p.class as usize].push(p.block);
            self.used_bytes -= Self::block_bytes(p.class);
        }
        self.used_bytes -= PROFILE_BYTES + INDEX_BYTES;
        self.free_slots.push(slot);
        self.live -= 1;
        self.evicted += 1;
    }

    fn unlink(&mut self, slot: u32) {
        let Profile { prev, next, .. } = self.slab[slot as usize];
        if prev != NONE {
            self.slab[prev as usize].next = next;
        } else if self.head == slot {
            self.head = next;
        }
        if next != NONE {
            self.slab[next as usize].prev = prev;
        } else if self.tail == slot {
            self.tail = prev;
        }
        let p = &mut self.slab[slot as usize];
        p.prev = NONE;
        p.next = NONE;
    }

    fn push_front(&mut self, slot: u32) {
        let old = self.head;
        {
            let p = &mut self.slab[slot as usize];
            p.prev = NONE;
            p.next = old;
        }
        if old != NONE {
            self.slab[old as usize].prev = slot;
        }
        self.head = slot;
        if self.tail == NONE {
            self.tail = slot;
        }
    }

    fn values(&self, p: &Profile) -> &[u32] {
        if p.block == NONE {
            return &[];
        }
        let b = p.block as usize;
        &self.pool[p.class as usize][b..b + p.len as usize]
    }

    /// Looks `tag` (of `kind`) up in the principal at `slot`, remembering it when new.
    pub fn see(&mut self, slot: u32, kind: ValueKind, tag: u32) -> Seen {
        let p = self.slab[slot as usize];
        // A full profile (only a damaged or foreign state file gets there) takes no more.
        if p.saturated & kind.bit() != 0 || p.len as usize >= MAX_VALUES {
            return Seen::Known;
        }
        let values = self.values(&p);
        let at = match values.binary_search(&tag) {
            Ok(_) => return Seen::Known,
            Err(at) => at,
        };
        let lo = values.partition_point(|&v| v < (kind as u32) << 29);
        let hi = values.partition_point(|&v| v < ((kind as u32) + 1) << 29);
        if hi - lo >= kind.limit() {
            self.slab[slot as usize].saturated |= kind.bit();
            return Seen::Known;
        }
        self.insert_value(slot, at, tag);
        Seen::New
    }

    fn insert_value(&mut self, slot: u32, at: usize, tag: u32) {
        let p = self.slab[slot as usize];
        let len = p.len as usize;
        let capacity = if p.block == NONE {
            0
        } else {
            4usize << p.class
        };
        if len < capacity {
            let b = p.block as usize;
            let block = &mut self.pool[p.class as usize][b..b + len + 1];
            block.copy_within(at..len, at + 1);
            block[at] = tag;
        } else {
            let class = if p.block == NONE {
                0
            } else {
                (p.class + 1).min(CLASSES as u8 - 1)
            };
            let new = self.alloc(class);
            let mut moved = [0u32; MAX_VALUES];
            let old = self.values(&p);
            let n = old.len().min(moved.len() - 1);
            moved[..n].copy_from_slice(&old[..n]);
            moved.copy_within(at..n, at + 1);
            moved[at] = tag;
            let nb = new as usize;
            self.pool[class as usize][nb..nb + n + 1].copy_from_slice(&moved[..n + 1]);
            if p.block != NONE {
                self.free_blocks[p.class as usize].push(p.block);
                self.used_bytes -= Self::block_bytes(p.class);
            }
            let q = &mut self.slab[slot as usize];
            q.block = new;
            q.class = class;
        }
        self.slab[slot as usize].len += 1;
        // A bigger block may take the table over budget: make room at the cold end, never
        // evicting the principal being updated (it is at the head).
        while self.used_bytes > self.max_bytes && self.tail != NONE && self.tail != slot {
            self.evict(self.tail);
        }
    }

    fn alloc(&mut self, class: u8) -> u32 {
        self.used_bytes += Self::block_bytes(class);
        if let Some(b) = self.free_blocks[class as usize].pop() {
            return b;
        }
        let pool = &mut self.pool[class as usize];
        let at = pool.len();
        pool.resize(at + (4 << class), 0);
        at as u32
    }

    /// When the principal at `slot` last called an API for the first time (seconds), and
    /// records `now` as that time.
    pub fn api_grew(&mut self, slot: u32, now: u32) -> u32 {
        let p = &mut self.slab[slot as usize];
        let was = p.api_grew_s;
        p.api_grew_s = now.max(was);
        was
    }

    /// Every principal, least recently seen first.
    pub fn export(&self, mut f: impl FnMut(&Exported, &[u32])) {
        let mut s = self.tail;
        while s != NONE {
            let p = &self.slab[s as usize];
            let e = Exported {
                key: p.key,
                first_s: p.first_s,
                events: p.events,
                saturated: p.saturated,
                api_grew_s: p.api_grew_s,
            };
            f(&e, self.values(p));
            s = p.prev;
        }
    }

    /// Restores one exported principal as the most recently seen (import in export order).
    pub fn import(&mut self, e: &Exported, values: &[u32]) {
        let t = self.touch(e.key, e.first_s);
        let p = &mut self.slab[t.slot as usize];
        p.events = e.events;
        p.first_s = e.first_s;
        p.saturated = e.saturated;
        p.api_grew_s = e.api_grew_s;
        let mut sorted: Vec<u32> = values.to_vec();
        sorted.sort_unstable();
        sorted.dedup();
        for v in sorted.into_iter().take(MAX_VALUES - 1) {
            let at = {
                let p = self.slab[t.slot as usize];
                self.values(&p).partition_point(|&x| x < v)
            };
            self.insert_value(t.slot, at, v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remembers_values_per_principal() {
        let mut t = Principals::new(1 << 20);
        let a = t.touch(1, 100);
        assert_eq!(
            t.see(a.slot, ValueKind::SourceIp, ValueKind::SourceIp.tag(10)),
            Seen::New
        );
        assert_eq!(
            t.see(a.slot, ValueKind::SourceIp, ValueKind::SourceIp.tag(10)),
            Seen::Known
        );
        // Same hash, other kind: distinct.
        assert_eq!(
            t.see(a.slot, ValueKind::Region, ValueKind::Region.tag(10)),
            Seen::New
        );
        let b = t.touch(2, 100);
        assert_eq!(
            t.see(b.slot, ValueKind::SourceIp, ValueKind::SourceIp.tag(10)),
            Seen::New
        );
        // Growing through several block sizes keeps every value.
        for i in 0..200u64 {
            t.see(a.slot, ValueKind::Api, ValueKind::Api.tag(i << 40));
        }
        for i in 0..200u64 {
            assert_eq!(
                t.see(a.slot, ValueKind::Api, ValueKind::Api.tag(i << 40)),
                Seen::Known
            );
        }
        assert_eq!(t.touch(1, 50).first_s, 50);
        assert_eq!(t.touch(1, 500).events, 3);
    }

    #[test]
    fn a_kind_saturates_at_its_limit() {
        let mut t = Principals::new(1 << 20);
        let s = t.touch(1, 0).slot;
        for i in 0..ValueKind::AccessKey.limit() as u64 {
            assert_eq!(
                t.see(s, ValueKind::AccessKey, ValueKind::AccessKey.tag(i << 40)),
                Seen::New
            );
        }
        assert_eq!(
            t.see(s, ValueKind::AccessKey, ValueKind::AccessKey.tag(999 << 40)),
            Seen::Known
        );
        assert_eq!(
            t.see(s, ValueKind::Region, ValueKind::Region.tag(1)),
            Seen::New
        );
    }

    #[test]
    fn evicts_the_least_recently_seen_within_budget() {
        let budget = 100 * (PROFILE_BYTES + INDEX_BYTES + 16);
        let mut t = Principals::new(budget);
        for k in 0..10_000u64 {
            let s = t.touch(k, 0).slot;
            t.see(s, ValueKind::Region, ValueKind::Region.tag(k << 40));
            // Principal 0 stays warm.
            let z = t.touch(0, 0).slot;
            let _ = z;
            assert!(t.used_bytes() <= budget, "{} > {budget}", t.used_bytes());
        }
        assert!(t.evicted > 9_000);
        assert!(t.find(0).is_some(), "the warm principal was evicted");
        assert!(t.find(9_999).is_some());
        assert!(t.find(1).is_none());
        let z = t.touch(0, 0).slot;
        assert_eq!(
            t.see(z, ValueKind::Region, ValueKind::Region.tag(0)),
            Seen::Known
        );
    }

    #[test]
    fn export_import_round_trip_keeps_order_and_values() {
        let mut t = Principals::new(1 << 20);
        for k in 0..50u64 {
            let s = t.touch(k, k as u32).slot;
            for v in 0..k {
                t.see(s, ValueKind::Api, ValueKind::Api.tag(v << 40));
            }
        }
        t.touch(3, 3);
        let mut rows = Vec::new();
        t.export(|e, v| rows.push((*e, v.to_vec())));
        let mut u = Principals::new(1 << 20);
        for (e, v) in &rows {
            u.import(e, v);
        }
        let mut again = Vec::new();
        u.export(|e, v| again.push((*e, v.to_vec())));
        assert_eq!(rows, again);
        assert_eq!(rows.last().unwrap().0.key, 3, "most recent last");
        assert_eq!(u.used_bytes(), t.used_bytes());
    }
}
