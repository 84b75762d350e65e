//! Builds filesystem images in memory for tests: files and directories with
//! chosen extents, written through the shared encoders, plus raw access to
//! inject corruption.
//!
//! ```ignore
//! let mut b = ImageBuilder::new(256, 64);
//! let data = b.data_extent(0, 3);
//! let file = b.create_file(ROOT, "a", 3 * 4096, &[data]);
//! let dir = b.create_dir(ROOT, "d");
//! b.link(dir, "a-again", file);
//! assert!(b.fsck().is_clean());
//! ```

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::io;
use std::path::Path;

use delafs::shared::format::{
    bitmap_set, bitmap_test, decode_dirent, dirent_is_free, encode_dirent, inode_slot,
    inode_slot_mut, walk_extents, Block, ChainLayout, ChainPlan, DirEntry, Extent, Features,
    Geometry, Inode, Timestamp, Visit, BLOCK_CSUM_OFFSET, BLOCK_SIZE, DIRENTS_PER_BLOCK,
    INODE_SIZE, ROOT_INO, S_IFDIR, S_IFLNK, S_IFREG,
};

use super::disk::MemDisk;
use super::fsck::{self, Report};
use super::mkfs;

/// The root directory's inode number.
pub const ROOT: u32 = ROOT_INO;

/// Time stamps and uuid of built images, fixed so images are reproducible.
const TIME: u64 = 1_700_000_000;

/// An image being built in memory.
pub struct ImageBuilder {
    /// The image.
    pub disk: MemDisk,
    /// Its layout.
    pub geo: Geometry,
    /// The extent blocks of the inodes this builder wrote extents for.
    chains: BTreeMap<u32, Vec<u64>>,
}

impl ImageBuilder {
    /// A freshly made filesystem, as `mkfs` writes it.
    pub fn new(total_blocks: u64, inode_count: u64) -> Self {
        let mut disk = MemDisk::new(total_blocks);
        let sb = mkfs::format(&mut disk, total_blocks, inode_count, TIME, [0x42; 16])
            .expect("mkfs of the test image");
        Self {
            disk,
            geo: sb.geometry,
            chains: BTreeMap::new(),
        }
    }

    /// An existing image (e.g. after a repair), to inspect or change. The
    /// builder does not know its extent chains: `set_extents` writes new
    /// ones.
    pub fn from_disk(disk: MemDisk) -> Self {
        let blocks = delafs::shared::format::Superblock::decode(disk.block(0), u64::MAX)
            .expect("image superblock");
        Self {
            disk,
            geo: blocks.geometry,
            chains: BTreeMap::new(),
        }
    }

    /// The contents of inode `ino` (its size, holes read as zeros).
    pub fn read_file(&self, ino: u32) -> Vec<u8> {
        let size = usize::try_from(self.inode(ino).size).expect("size");
        let mut data = vec![0; size];
        for e in self.extents(ino) {
            for i in 0..u64::from(e.len) {
                let Ok(at) = usize::try_from((u64::from(e.logical) + i) * BLOCK_SIZE as u64) else {
                    break;
                };
                if at >= size {
                    break;
                }
                let n = (size - at).min(BLOCK_SIZE);
                data[at..at + n].copy_from_slice(&self.block(e.physical + i)[..n]);
            }
        }
        data
    }

    /// Block `n`.
    pub fn block(&self, n: u64) -> &Block {
        self.disk.block(n)
    }

    /// Block `n`, for writing.
    pub fn block_mut(&mut self, n: u64) -> &mut Block {
        self.disk.block_mut(n)
    }

    /// Whether the bitmap marks block `n` as used.
    pub fn is_used(&self, n: u64) -> bool {
        let (block, bit) = self.geo.bitmap_location(n);
        bitmap_test(self.block(block), bit)
    }

    /// Sets the bitmap bits of `[start, start + len)`; blocks past the end
    /// of the filesystem are skipped.
    pub fn set_used(&mut self, start: u64, len: u64, used: bool) {
        let end = start.saturating_add(len).min(self.geo.total_blocks);
        for n in start..end {
            let (block, bit) = self.geo.bitmap_location(n);
            bitmap_set(self.block_mut(block), bit, used);
        }
    }

    /// Allocates `n` contiguous free blocks, lowest first, and marks them
    /// used.
    pub fn alloc(&mut self, n: u64) -> u64 {
        let mut start = self.geo.data_start;
        let mut run = 0;
        for b in self.geo.data_start..self.geo.total_blocks {
            if self.is_used(b) {
                run = 0;
                start = b + 1;
                continue;
            }
            run += 1;
            if run == n {
                self.set_used(start, n, true);
                return start;
            }
        }
        panic!("test image full: no {n} free blocks in a row");
    }

    /// Allocates `len` blocks and returns them as an extent at file block
    /// `logical`.
    pub fn data_extent(&mut self, logical: u32, len: u32) -> Extent {
        Extent {
            logical,
            len,
            physical: self.alloc(len.into()),
            unwritten: false,
        }
    }

    /// [`ImageBuilder::data_extent`], unwritten: allocated, no data yet.
    pub fn unwritten_extent(&mut self, logical: u32, len: u32) -> Extent {
        Extent {
            unwritten: true,
            ..self.data_extent(logical, len)
        }
    }

    /// The raw bytes of inode `ino`'s slot.
    pub fn inode_bytes(&self, ino: u32) -> &[u8; INODE_SIZE] {
        let (block, slot) = self.geo.inode_location(ino.into()).expect("inode number");
        inode_slot(self.block(block), slot).expect("slot")
    }

    /// The raw bytes of inode `ino`'s slot, for writing.
    pub fn inode_bytes_mut(&mut self, ino: u32) -> &mut [u8; INODE_SIZE] {
        let (block, slot) = self.geo.inode_location(ino.into()).expect("inode number");
        inode_slot_mut(self.block_mut(block), slot).expect("slot")
    }

    /// Inode `ino`, which must decode and be in use.
    pub fn inode(&self, ino: u32) -> Inode {
        Inode::decode(self.inode_bytes(ino))
            .expect("inode decodes")
            .expect("inode in use")
    }

    /// Encodes `inode` into slot `ino`.
    pub fn write_inode(&mut self, ino: u32, inode: &Inode) {
        inode.encode(self.inode_bytes_mut(ino));
    }

    /// Changes inode `ino` with `f`.
    pub fn update_inode(&mut self, ino: u32, f: impl FnOnce(&mut Inode)) {
        let mut inode = self.inode(ino);
        f(&mut inode);
        self.write_inode(ino, &inode);
    }

    /// Every extent of inode `ino`, inline then chained, walked and checked
    /// as the kernel walks them; the extent list must be sound.
    pub fn extents(&self, ino: u32) -> Vec<Extent> {
        let inode = self.inode(ino);
        let mut all = Vec::new();
        walk_extents(
            &self.geo,
            &inode,
            |block, f| {
                f(self.block(block));
                Ok::<_, Infallible>(())
            },
            |visit| {
                if let Visit::Extent(e) = visit {
                    all.push(*e);
                }
                Ok(())
            },
        )
        .unwrap_or_else(|e| panic!("inode {ino}: extent list: {e:?}"));
        all
    }

    /// Gives inode `ino` the extents `extents`, writing its extent chain
    /// (reusing, allocating or freeing chain blocks). Marks the extents'
    /// blocks used when they are inside the data area, as fsck expects.
    pub fn set_extents(&mut self, ino: u32, extents: &[Extent]) {
        let old = self.chains.remove(&ino).unwrap_or_default();
        let plan = ChainPlan::new(old.len(), extents.len()).expect("extent count");
        for &b in plan.freed(&old) {
            self.set_used(b, 1, false);
        }
        let mut chain = plan.kept(&old).to_vec();
        for _ in 0..plan.grow() {
            chain.push(self.alloc(1));
        }
        let layout = ChainLayout::new(&self.geo, extents, &chain).expect("chain layout");
        let head = layout.head();
        for piece in layout {
            piece
                .encode(self.block_mut(piece.block))
                .expect("chain block");
        }
        self.update_inode(ino, |inode| {
            inode.set_extents(extents, head).expect("extent list");
        });
        for e in extents {
            if self.geo.in_data(e.physical, e.len.into()) {
                self.set_used(e.physical, e.len.into(), true);
            }
        }
        self.chains.insert(ino, chain);
    }

    /// The lowest free inode number.
    fn free_ino(&self) -> u32 {
        (2..self.geo.inode_count)
            .map(|ino| ino as u32)
            .find(|&ino| self.inode_bytes(ino).iter().all(|&b| b == 0))
            .expect("test image out of inodes")
    }

    /// Creates an inode of mode `mode` named `name` in directory `parent`,
    /// of `size` bytes mapped by `extents`, with a correct link count (and
    /// the parent's). Returns its number.
    pub fn create(
        &mut self,
        parent: u32,
        name: &str,
        mode: u16,
        size: u64,
        extents: &[Extent],
    ) -> u32 {
        let ino = self.free_ino();
        let time = Timestamp {
            sec: TIME as i64,
            nsec: 0,
        };
        let mut inode = Inode::new(mode);
        inode.size = size;
        inode.atime = time;
        inode.mtime = time;
        inode.ctime = time;
        if inode.is_dir() {
            inode.nlink = 2;
            inode.parent = parent;
        } else {
            inode.nlink = 1;
        }
        self.write_inode(ino, &inode);
        self.set_extents(ino, extents);
        self.add_entry(parent, name.as_bytes(), ino, inode.file_type());
        if inode.is_dir() {
            self.update_inode(parent, |p| p.nlink += 1);
        }
        ino
    }

    /// Creates a regular file.
    pub fn create_file(&mut self, parent: u32, name: &str, size: u64, extents: &[Extent]) -> u32 {
        self.create(parent, name, S_IFREG | 0o644, size, extents)
    }

    /// Creates a symlink whose target is stored in one data block.
    pub fn create_symlink(&mut self, parent: u32, name: &str, target: &str) -> u32 {
        let e = self.data_extent(0, 1);
        let bytes = target.as_bytes();
        self.block_mut(e.physical)[..bytes.len()].copy_from_slice(bytes);
        self.create(parent, name, S_IFLNK | 0o777, bytes.len() as u64, &[e])
    }

    /// Creates an empty directory.
    pub fn create_dir(&mut self, parent: u32, name: &str) -> u32 {
        self.create(parent, name, S_IFDIR | 0o755, 0, &[])
    }

    /// Adds a hard link `name` in `dir` to the non-directory `ino`.
    pub fn link(&mut self, dir: u32, name: &str, ino: u32) {
        let file_type = self.inode(ino).file_type();
        self.add_entry(dir, name.as_bytes(), ino, file_type);
        self.update_inode(ino, |i| i.nlink += 1);
    }

    /// Writes a directory entry in the first free slot of `dir`, growing it
    /// by a block if it is full; touches no link count. Returns the disk
    /// block and slot of the entry.
    pub fn add_entry(&mut self, dir: u32, name: &[u8], ino: u32, file_type: u8) -> (u64, usize) {
        let entry = DirEntry {
            ino,
            file_type,
            name,
        };
        for e in self.extents(dir) {
            for b in e.physical..e.physical_end() {
                if let Some(slot) =
                    (0..DIRENTS_PER_BLOCK).find(|&s| dirent_is_free(self.block(b), s))
                {
                    encode_dirent(self.block_mut(b), slot, Some(&entry)).expect("valid entry");
                    return (b, slot);
                }
            }
        }
        let mut extents = self.extents(dir);
        let blocks: u64 = extents.iter().map(|e| u64::from(e.len)).sum();
        let new = self.data_extent(blocks as u32, 1);
        self.block_mut(new.physical).fill(0);
        encode_dirent(self.block_mut(new.physical), 0, Some(&entry)).expect("valid entry");
        extents.push(new);
        self.set_extents(dir, &extents);
        self.update_inode(dir, |d| d.size = (blocks + 1) * BLOCK_SIZE as u64);
        (new.physical, 0)
    }

    /// The disk block and slot of the entry `name` in `dir`.
    pub fn find_entry(&self, dir: u32, name: &str) -> Option<(u64, usize)> {
        for e in self.extents(dir) {
            for b in e.physical..e.physical_end() {
                for slot in 0..DIRENTS_PER_BLOCK {
                    if let Ok(Some(d)) = decode_dirent(self.block(b), slot) {
                        if d.name == name.as_bytes() {
                            return Some((b, slot));
                        }
                    }
                }
            }
        }
        None
    }

    /// Writes the superblock's feature fields as given, checksum fixed (an
    /// image from before feature bits has them all zero).
    pub fn set_features(&mut self, f: Features) {
        let sb = self.block_mut(0);
        sb[76..80].copy_from_slice(&f.compat.to_le_bytes());
        sb[104..108].copy_from_slice(&f.ro_compat.to_le_bytes());
        sb[108..112].copy_from_slice(&f.incompat.to_le_bytes());
        let sum = delafs::shared::crc32c::crc32c(&sb[..BLOCK_CSUM_OFFSET]);
        sb[BLOCK_CSUM_OFFSET..].copy_from_slice(&sum.to_le_bytes());
    }

    /// Runs fsck on a copy of the image.
    pub fn fsck(&self) -> Report {
        let mut disk = self.disk.clone();
        fsck::check(&mut disk).expect("fsck I/O on a memory image")
    }

    /// Writes the image to `path`.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        self.disk.save(path)
    }
}
