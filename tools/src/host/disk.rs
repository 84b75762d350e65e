//! Block devices as the tools see them: image files, block device nodes and
//! in-memory images, read and written a 4096-byte block at a time.

use std::fs::{File, OpenOptions};
use std::io::{self, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::Path;

use delafs::shared::format::{Block, BLOCK_SIZE};

/// A device of whole blocks.
pub trait Disk {
    /// Size in blocks (a partial last block does not count).
    fn blocks(&self) -> u64;
    /// Reads block `n`.
    fn read_block(&mut self, n: u64, buf: &mut Block) -> io::Result<()>;
    /// Writes block `n`.
    fn write_block(&mut self, n: u64, buf: &Block) -> io::Result<()>;
    /// Makes the writes durable.
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// A new zeroed block on the heap (4 KiB is too much for some stacks).
pub fn zeroed_block() -> Box<Block> {
    Box::new([0u8; BLOCK_SIZE])
}

fn offset(n: u64) -> io::Result<u64> {
    n.checked_mul(BLOCK_SIZE as u64)
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "block number too large"))
}

fn out_of_range(n: u64, blocks: u64) -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        format!("block {n} is past the end of the device ({blocks} blocks)"),
    )
}

/// An image file or a block device node.
#[derive(Debug)]
pub struct FileDisk {
    file: File,
    blocks: u64,
}

impl FileDisk {
    /// Opens `path`, read-only or for writing, and takes its current size
    /// (seeking to the end also works for block devices).
    pub fn open(path: &Path, writable: bool) -> io::Result<Self> {
        let mut file = OpenOptions::new().read(true).write(writable).open(path)?;
        let bytes = file.seek(SeekFrom::End(0))?;
        Ok(Self {
            file,
            blocks: bytes / BLOCK_SIZE as u64,
        })
    }

    /// Uses only the first `blocks` blocks of the device.
    pub fn limit(&mut self, blocks: u64) {
        self.blocks = self.blocks.min(blocks);
    }
}

impl Disk for FileDisk {
    fn blocks(&self) -> u64 {
        self.blocks
    }

    fn read_block(&mut self, n: u64, buf: &mut Block) -> io::Result<()> {
        if n >= self.blocks {
            return Err(out_of_range(n, self.blocks));
        }
        self.file.read_exact_at(buf, offset(n)?)
    }

    fn write_block(&mut self, n: u64, buf: &Block) -> io::Result<()> {
        if n >= self.blocks {
            return Err(out_of_range(n, self.blocks));
        }
        self.file.write_all_at(buf, offset(n)?)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.sync_all()
    }
}

/// An image in memory, for tests and the image builder.
#[derive(Clone, Debug)]
pub struct MemDisk {
    /// The image bytes, a whole number of blocks.
    pub data: Vec<u8>,
}

impl MemDisk {
    /// A zeroed image of `blocks` blocks.
    pub fn new(blocks: u64) -> Self {
        let len = usize::try_from(blocks).expect("image too large") * BLOCK_SIZE;
        Self { data: vec![0; len] }
    }

    /// Block `n`, which must exist.
    pub fn block(&self, n: u64) -> &Block {
        let start = usize::try_from(n).expect("block number") * BLOCK_SIZE;
        self.data[start..start + BLOCK_SIZE]
            .try_into()
            .expect("block size")
    }

    /// Block `n`, which must exist, for writing.
    pub fn block_mut(&mut self, n: u64) -> &mut Block {
        let start = usize::try_from(n).expect("block number") * BLOCK_SIZE;
        (&mut self.data[start..start + BLOCK_SIZE])
            .try_into()
            .expect("block size")
    }

    /// An image file read into memory (its length in whole blocks).
    pub fn load(path: &Path) -> io::Result<Self> {
        let mut data = std::fs::read(path)?;
        data.truncate(data.len() / BLOCK_SIZE * BLOCK_SIZE);
        Ok(Self { data })
    }

    /// Writes the image to a file, replacing it.
    pub fn save(&self, path: &Path) -> io::Result<()> {
        std::fs::write(path, &self.data)
    }
}

impl Disk for MemDisk {
    fn blocks(&self) -> u64 {
        (self.data.len() / BLOCK_SIZE) as u64
    }

    fn read_block(&mut self, n: u64, buf: &mut Block) -> io::Result<()> {
        if n >= self.blocks() {
            return Err(out_of_range(n, self.blocks()));
        }
        buf.copy_from_slice(self.block(n));
        Ok(())
    }

    fn write_block(&mut self, n: u64, buf: &Block) -> io::Result<()> {
        if n >= self.blocks() {
            return Err(out_of_range(n, self.blocks()));
        }
        self.block_mut(n).copy_from_slice(buf);
        Ok(())
    }
}
