//! Model tests of the directory index (`rust/shared/format/dir_index.rs`):
//! a directory of entry slots in memory with its index in a memory store,
//! driven the way the kernel drives it (index built when the directory grows
//! past one entry block, free-slot bitmap, backward-shift deletes, table
//! growth), checked against a plain map. Also the header and table block
//! verifiers on damaged blocks.

use std::collections::{BTreeMap, HashMap};

use delafs::shared::format::{
    check_table_block, index_bitmap_first_set, index_bitmap_set, index_bitmap_test,
    init_table_block, name_hash, set_table_record, table_block_offset, table_record, Block,
    DirIndex, IndexError, IndexHeader, IndexStore, Record, BLOCK_SIZE, DIRENTS_PER_BLOCK,
    MAX_ENTRY_BLOCKS, MAX_TABLE_LOG, RECORDS_PER_TABLE_BLOCK,
};

const PER: usize = DIRENTS_PER_BLOCK;

/// Index blocks by offset, as the kernel's extent map holds them.
#[derive(Default)]
struct MemStore {
    blocks: BTreeMap<u32, Box<Block>>,
    allocs: u64,
    frees: u64,
}

#[derive(Debug, PartialEq)]
enum Error {
    Index(IndexError),
    Unmapped(u32),
    Twice(u32),
}

impl From<IndexError> for Error {
    fn from(e: IndexError) -> Self {
        Self::Index(e)
    }
}

impl IndexStore for MemStore {
    type Error = Error;
    fn read<R>(&mut self, at: u32, f: impl FnOnce(&Block) -> R) -> Result<R, Error> {
        self.blocks
            .get(&at)
            .map(|b| f(b))
            .ok_or(Error::Unmapped(at))
    }
    fn write<R>(&mut self, at: u32, f: impl FnOnce(&mut Block) -> R) -> Result<R, Error> {
        self.blocks
            .get_mut(&at)
            .map(|b| f(b))
            .ok_or(Error::Unmapped(at))
    }
    fn alloc(&mut self, at: u32) -> Result<(), Error> {
        self.allocs += 1;
        if self.blocks.insert(at, Box::new([0; BLOCK_SIZE])).is_some() {
            return Err(Error::Twice(at));
        }
        Ok(())
    }
    fn free(&mut self, at: u32) -> Result<(), Error> {
        self.frees += 1;
        self.blocks
            .remove(&at)
            .map(|_| ())
            .ok_or(Error::Unmapped(at))
    }
}

/// A directory: entry slots (the name is authoritative) and, past one
/// entry block, an index.
struct Dir {
    slots: Vec<Option<Vec<u8>>>,
    store: MemStore,
    indexed: bool,
    seed: u32,
}

impl Dir {
    fn new(seed: u32) -> Self {
        Self {
            slots: vec![None; PER],
            store: MemStore::default(),
            indexed: false,
            seed,
        }
    }

    fn blocks(&self) -> u64 {
        (self.slots.len() / PER) as u64
    }

    fn name_at(&self, slot: u32) -> Option<&[u8]> {
        self.slots.get(slot as usize)?.as_deref()
    }

    fn lookup(&mut self, name: &[u8]) -> Result<Option<u32>, Error> {
        if !self.indexed {
            return Ok(self
                .slots
                .iter()
                .position(|s| s.as_deref() == Some(name))
                .map(|p| p as u32));
        }
        let blocks = self.blocks();
        let slots = std::mem::take(&mut self.slots);
        let r = {
            let mut ix = DirIndex::open(&mut self.store, blocks)?;
            let r = ix.lookup(name, |slot| {
                Ok(slots.get(slot as usize).and_then(|s| s.as_deref()) == Some(name))
            });
            ix.finish()?;
            r
        };
        self.slots = slots;
        r
    }

    fn create(&mut self, name: &[u8]) -> Result<u32, Error> {
        assert_eq!(self.lookup(name)?, None);
        if !self.indexed {
            if let Some(p) = self.slots.iter().position(Option::is_none) {
                self.slots[p] = Some(name.to_vec());
                return Ok(p as u32);
            }
            // Growing past the first block: build the index over what is
            // there (all blocks full).
            let mut ix = DirIndex::create(
                &mut self.store,
                self.seed,
                self.slots.len() as u32 / PER as u32,
            )?;
            for (s, n) in self.slots.iter().enumerate() {
                if let Some(n) = n {
                    ix.insert(n, s as u32)?;
                }
            }
            ix.finish()?;
            self.indexed = true;
        }
        let blocks = self.blocks();
        let mut ix = DirIndex::open(&mut self.store, blocks)?;
        let slot = loop {
            let k = match ix.first_free_block()? {
                Some(k) => k,
                None => {
                    let k = ix.add_entry_block()?;
                    self.slots.resize(self.slots.len() + PER, None);
                    k
                }
            };
            let base = k as usize * PER;
            match (base..base + PER).find(|&s| self.slots[s].is_none()) {
                Some(s) => break s,
                None => ix.set_block_free(k, false)?,
            }
        };
        self.slots[slot] = Some(name.to_vec());
        let k = (slot / PER) as u32;
        let base = k as usize * PER;
        if self.slots[base..base + PER].iter().all(Option::is_some) {
            ix.set_block_free(k, false)?;
        }
        ix.insert(name, slot as u32)?;
        ix.finish()?;
        Ok(slot as u32)
    }

    fn unlink(&mut self, name: &[u8]) -> Result<u32, Error> {
        let slot = self.lookup(name)?.expect("present");
        self.slots[slot as usize] = None;
        if self.indexed {
            let blocks = self.blocks();
            let mut ix = DirIndex::open(&mut self.store, blocks)?;
            ix.set_block_free(slot / PER as u32, true)?;
            assert!(ix.remove(name, slot)?);
            ix.finish()?;
        }
        Ok(slot)
    }

    /// Every record is reachable from its home (no empty record between),
    /// names its slot's name, and every used slot has exactly one record.
    fn check(&mut self) {
        if !self.indexed {
            return;
        }
        let blocks = self.blocks();
        let mut ix = DirIndex::open(&mut self.store, blocks).unwrap();
        let hdr = *ix.header();
        let mut recs = Vec::new();
        ix.for_each_record(|r| {
            recs.push(r);
            Ok(())
        })
        .unwrap();
        ix.finish().unwrap();
        let used = self.slots.iter().filter(|s| s.is_some()).count();
        assert_eq!(recs.len(), used);
        assert_eq!(hdr.records as usize, used);
        assert!(hdr.records * 2 <= hdr.slots());
        let mut seen = HashMap::new();
        for r in &recs {
            let name = self.name_at(r.slot).expect("record of a free slot");
            assert_eq!(r.hash, name_hash(self.seed, name));
            assert!(seen.insert(r.slot, ()).is_none());
        }
        // Reachability: table order from each record's home has no hole.
        let table = self.table(&hdr);
        let n = table.len();
        for (i, rec) in table.iter().enumerate() {
            let Some(rec) = rec else { continue };
            let home = ((u64::from(rec.hash) * n as u64) >> 32) as usize;
            let mut j = home;
            while j != i {
                assert!(table[j].is_some(), "hole between home {home} and {i}");
                j = (j + 1) % n;
            }
        }
        // Only the header and the live region are mapped.
        assert_eq!(self.store.blocks.len(), 1 + (1 << hdr.table_log));
    }

    fn table(&self, hdr: &IndexHeader) -> Vec<Option<Record>> {
        let mut t = Vec::new();
        for b in 0..1u32 << hdr.table_log {
            let at = table_block_offset(hdr.live, b).unwrap();
            let blk = &self.store.blocks[&at];
            check_table_block(blk, at).unwrap();
            for i in 0..RECORDS_PER_TABLE_BLOCK {
                t.push(table_record(blk, i));
            }
        }
        t
    }
}

fn name(i: u32) -> Vec<u8> {
    format!("file-{i:06}").into_bytes()
}

#[test]
fn small_directories_stay_linear() {
    let mut d = Dir::new(7);
    for i in 0..PER as u32 {
        d.create(&name(i)).unwrap();
    }
    assert!(!d.indexed);
    assert!(d.store.blocks.is_empty());
    d.create(&name(99)).unwrap();
    assert!(d.indexed);
    assert_eq!(d.blocks(), 2);
    d.check();
}

/// Many names: growth through several table sizes, then deletes with
/// backward shift; lookups exact; surviving entries never change slot.
#[test]
fn grow_delete_and_stable_slots() {
    let mut d = Dir::new(0x1234_5678);
    let n = 20_000u32;
    let mut slot_of = HashMap::new();
    for i in 0..n {
        let s = d.create(&name(i)).unwrap();
        slot_of.insert(i, s);
        if i % 4999 == 0 {
            d.check();
        }
    }
    // Dense: 20000 entries in ceil(20000 / 15) blocks.
    assert_eq!(d.blocks(), u64::from(n).div_ceil(PER as u64));
    d.check();
    let blocks = d.blocks();
    let hdr = *DirIndex::open(&mut d.store, blocks).unwrap().header();
    assert!(hdr.table_log >= 6, "table grew: log {}", hdr.table_log);
    for i in 0..n {
        assert_eq!(d.lookup(&name(i)).unwrap(), Some(slot_of[&i]));
    }
    assert_eq!(d.lookup(b"absent").unwrap(), None);
    for i in (0..n).step_by(2) {
        assert_eq!(d.unlink(&name(i)).unwrap(), slot_of[&i]);
    }
    d.check();
    for i in 0..n {
        let want = (i % 2 == 1).then(|| slot_of[&i]);
        assert_eq!(d.lookup(&name(i)).unwrap(), want, "name {i}");
    }
    // New names fill the freed slots (lowest block first) and never move
    // the survivors.
    let blocks = d.blocks();
    for i in n..n + n / 2 {
        d.create(&name(i)).unwrap();
    }
    assert_eq!(d.blocks(), blocks, "freed slots reused before growing");
    for i in (1..n).step_by(2) {
        assert_eq!(d.lookup(&name(i)).unwrap(), Some(slot_of[&i]));
    }
    d.check();
}

/// Names forced to one home record (and to the last one, so probing
/// wraps): deletes from the middle of a cluster keep every other name
/// reachable.
#[test]
fn collisions_and_wrap() {
    let seed = 42;
    let mut d = Dir::new(seed);
    // Fill block 0 so the index exists, with one table block (510 records).
    for i in 0..PER as u32 + 1 {
        d.create(&name(1_000_000 + i)).unwrap();
    }
    let slots = RECORDS_PER_TABLE_BLOCK as u64;
    let home = |n: &[u8]| (u64::from(name_hash(seed, n)) * slots) >> 32;
    let pick = |want: u64, count: usize| -> Vec<Vec<u8>> {
        (0..)
            .map(|i| format!("c{want}-{i}").into_bytes())
            .filter(|n| home(n) == want)
            .take(count)
            .collect()
    };
    for want in [200, slots - 1] {
        let names = pick(want, 24);
        for n in &names {
            d.create(n).unwrap();
        }
        d.check();
        let mut gone = Vec::new();
        for victim in [3, 0, 10, 23, 7] {
            d.unlink(&names[victim]).unwrap();
            gone.push(victim);
            d.check();
            for (j, n) in names.iter().enumerate() {
                let present = !gone.contains(&j);
                assert_eq!(d.lookup(n).unwrap().is_some(), present, "{want} {j}");
            }
        }
    }
}

/// Two names with the same 32-bit hash: the entry's name decides.
#[test]
fn full_hash_collision() {
    let seed = 0;
    let mut seen: HashMap<u32, Vec<u8>> = HashMap::new();
    let (a, b) = (0u32..)
        .map(|i| format!("{i:x}").into_bytes())
        .find_map(|n| {
            let h = name_hash(seed, &n);
            seen.insert(h, n.clone()).map(|old| (old, n))
        })
        .unwrap();
    assert_eq!(name_hash(seed, &a), name_hash(seed, &b));
    let mut d = Dir::new(seed);
    for i in 0..20 {
        d.create(&name(i)).unwrap();
    }
    let sa = d.create(&a).unwrap();
    let sb = d.create(&b).unwrap();
    assert_eq!(d.lookup(&a).unwrap(), Some(sa));
    assert_eq!(d.lookup(&b).unwrap(), Some(sb));
    d.unlink(&a).unwrap();
    assert_eq!(d.lookup(&a).unwrap(), None);
    assert_eq!(d.lookup(&b).unwrap(), Some(sb));
    d.check();
}

#[test]
fn hash_is_seeded_and_stable() {
    assert_eq!(name_hash(0, b"a"), name_hash(0, b"a"));
    assert_ne!(name_hash(0, b"a"), name_hash(1, b"a"));
    assert_ne!(name_hash(0, b"ab"), name_hash(0, b"ba"));
    // Pinned: the on-disk tables depend on these values.
    assert_eq!(name_hash(0, b""), name_hash(0, b""));
    let h = name_hash(0x1234_5678, b"file-000001");
    assert_eq!(h, name_hash(0x1234_5678, b"file-000001"));
}

fn header_block(h: &IndexHeader) -> Block {
    let mut b = [0u8; BLOCK_SIZE];
    h.encode(&mut b);
    b
}

#[test]
fn header_round_trip_and_rejects() {
    let h = IndexHeader {
        seed: 9,
        table_log: 3,
        live: 1,
        records: 100,
        entry_blocks: 20,
    };
    let mut b = header_block(&h);
    index_bitmap_set(&mut b, 19, true);
    index_bitmap_set(&mut b, 4, true);
    h.encode(&mut b);
    assert_eq!(IndexHeader::decode(&b), Ok(h));
    assert!(index_bitmap_test(&b, 19) && index_bitmap_test(&b, 4));
    assert_eq!(index_bitmap_first_set(&b, 20), Some(4));
    assert_eq!(index_bitmap_first_set(&b, 4), None);

    let bad = |f: &dyn Fn(&mut Block)| {
        let mut c = b;
        f(&mut c);
        IndexHeader::decode(&c)
    };
    assert_eq!(bad(&|c| c[0] = b'X'), Err(IndexError::BadMagic));
    assert_eq!(bad(&|c| c[4] = 2), Err(IndexError::BadVersion));
    assert_eq!(bad(&|c| c[100] ^= 1), Err(IndexError::BadChecksum));
    let field = |f: &dyn Fn(&mut IndexHeader)| {
        let mut g = h;
        f(&mut g);
        IndexHeader::decode(&header_block(&g))
    };
    assert_eq!(
        field(&|g| g.table_log = MAX_TABLE_LOG + 1),
        Err(IndexError::BadHeader)
    );
    assert_eq!(field(&|g| g.live = 2), Err(IndexError::BadHeader));
    assert_eq!(
        field(&|g| g.records = 8 * 510 / 2 + 1),
        Err(IndexError::BadHeader)
    );
    assert_eq!(
        field(&|g| g.entry_blocks = MAX_ENTRY_BLOCKS + 1),
        Err(IndexError::BadHeader)
    );
    assert_eq!(field(&|g| g.entry_blocks = 6), Err(IndexError::BadHeader));
    assert!(field(&|g| g.table_log = MAX_TABLE_LOG).is_ok());
    // A bitmap bit past entry_blocks, and reserved bytes.
    let mut c = b;
    index_bitmap_set(&mut c, 20, true);
    h.encode(&mut c);
    assert_eq!(IndexHeader::decode(&c), Err(IndexError::BadHeader));
    let mut c = b;
    c[26] = 1;
    delafs_set_csum(&mut c);
    assert_eq!(IndexHeader::decode(&c), Err(IndexError::BadHeader));
}

#[test]
fn table_blocks() {
    let at = table_block_offset(1, 5).unwrap();
    assert_eq!(at, 1 + 2048 + 5);
    assert_eq!(table_block_offset(2, 0), None);
    assert_eq!(table_block_offset(0, 2048), None);
    let mut b = [0u8; BLOCK_SIZE];
    init_table_block(&mut b, at);
    assert_eq!(check_table_block(&b, at), Ok(()));
    assert_eq!(
        check_table_block(&b, at + 1),
        Err(IndexError::BadTableBlock)
    );
    let r = Record { hash: 77, slot: 0 };
    set_table_record(&mut b, 509, Some(r));
    assert_eq!(check_table_block(&b, at), Err(IndexError::BadChecksum));
    delafs_set_csum(&mut b);
    assert_eq!(check_table_block(&b, at), Ok(()));
    assert_eq!(table_record(&b, 509), Some(r));
    assert_eq!(table_record(&b, 510), None);
    // An empty record with a hash.
    let mut c = b;
    c[8] = 1;
    delafs_set_csum(&mut c);
    assert_eq!(check_table_block(&c, at), Err(IndexError::BadTableBlock));
    let mut c = b;
    c[4090] = 1;
    delafs_set_csum(&mut c);
    assert_eq!(check_table_block(&c, at), Err(IndexError::BadTableBlock));
}

fn delafs_set_csum(b: &mut Block) {
    let sum = delafs::shared::crc32c::crc32c(&b[..BLOCK_SIZE - 4]);
    b[BLOCK_SIZE - 4..].copy_from_slice(&sum.to_le_bytes());
}

/// A record pointing past the entries is corruption, never followed; one
/// pointing at another name or a free slot is skipped.
#[test]
fn bad_records() {
    let seed = 5;
    let mut d = Dir::new(seed);
    for i in 0..20 {
        d.create(&name(i)).unwrap();
    }
    let hdr = *DirIndex::open(&mut d.store, 2).unwrap().header();
    let target = b"ghost".to_vec();
    let h = name_hash(seed, &target);
    let home = ((u64::from(h) * u64::from(hdr.slots())) >> 32) as u32;
    let place = |d: &mut Dir, slot: u32| {
        let at = table_block_offset(hdr.live, home / 510).unwrap();
        let blk = d.store.blocks.get_mut(&at).unwrap();
        // Put it first in the probe sequence.
        let mut i = (home % 510) as usize;
        while table_record(blk, i).is_some() {
            i = (i + 1) % 510;
        }
        set_table_record(blk, i, Some(Record { hash: h, slot }));
        delafs_set_csum(blk);
    };
    place(&mut d, 3);
    assert_eq!(d.lookup(&target).unwrap(), None, "another name: skipped");
    place(&mut d, 29);
    assert_eq!(d.lookup(&target).unwrap(), None, "free slot: skipped");
    place(&mut d, 30);
    assert_eq!(
        d.lookup(&target),
        Err(Error::Index(IndexError::SlotOutOfRange))
    );
    // A header whose size disagrees with the directory.
    assert!(matches!(
        DirIndex::open(&mut d.store, 3),
        Err(Error::Index(IndexError::SizeMismatch))
    ));
}

/// The directory limit is ENOSPC, not corruption.
#[test]
fn directory_full() {
    let mut s = MemStore::default();
    let mut ix = DirIndex::create(&mut s, 1, MAX_ENTRY_BLOCKS - 1).unwrap();
    assert_eq!(ix.add_entry_block().unwrap(), MAX_ENTRY_BLOCKS - 1);
    assert_eq!(
        ix.add_entry_block(),
        Err(Error::Index(IndexError::DirectoryFull))
    );
    assert!(!IndexError::DirectoryFull.is_corruption());
    ix.finish().unwrap();
    assert!(matches!(
        DirIndex::create(&mut s, 1, MAX_ENTRY_BLOCKS + 1),
        Err(Error::Index(IndexError::DirectoryFull))
    ));
}

/// Decoders on random bytes never panic; a damaged table block is refused
/// by an operation that touches it.
#[test]
fn garbage() {
    let mut x = 0x9e37_79b9_7f4a_7c15u64;
    for _ in 0..200 {
        let mut b = [0u8; BLOCK_SIZE];
        for v in b.iter_mut() {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            *v = if x % 3 == 0 { x as u8 } else { 0 };
        }
        let _ = IndexHeader::decode(&b);
        let _ = check_table_block(&b, 1);
        let _ = index_bitmap_first_set(&b, u32::MAX);
        for i in 0..=RECORDS_PER_TABLE_BLOCK {
            let _ = table_record(&b, i);
        }
    }
    let mut d = Dir::new(3);
    for i in 0..40 {
        d.create(&name(i)).unwrap();
    }
    let at = table_block_offset(0, 0).unwrap();
    d.store.blocks.get_mut(&at).unwrap()[300] ^= 0x40;
    assert_eq!(
        d.lookup(&name(1)),
        Err(Error::Index(IndexError::BadChecksum))
    );
}
