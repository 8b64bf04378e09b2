//! The recorder's buffer, [`Blocks`]: a fixed array of entries cut into blocks that threads
//! claim one at a time and fill with plain stores, so that a recorded call takes no locked
//! instruction and no lock.
//!
//! Each thread writes through its own [`Lane`]: it fills the block it holds, and when that
//! block is full it claims a free one (one `fetch_and` on the free bitmap, once a block) and
//! links it after the full one. A reader (one at a time, under `reader`) follows each lane's
//! chain of blocks from where the last read stopped, takes what was written, and frees every
//! block the lane has moved past. A lane's current block is never freed, so the writer never
//! shares its block with another writer. When no block is free, a call is dropped (the caller
//! counts it); a thread therefore keeps at most a block of calls beyond what the other threads
//! left room for, and the buffer never holds more than its capacity.
//!
//! # Synchronization
//!
//! - **Entries and `Block::written`**: a writer stores the entry at index `written` of its
//!   block, then stores `written + 1` with `Release`; a reader loads `written` with `Acquire`
//!   and reads only entries below it. An entry is written once before a reader reads it and
//!   not again until its block is freed.
//! - **`Block::next` and `Lane::first`**: a writer links a new block after writing its first
//!   entry, storing its index with `Release` (into the full block's `next`, or into the lane's
//!   `first` for its first block); a reader loads them with `Acquire`. A reader that sees a
//!   block's `next` therefore sees that block's final `written`: the lane left it full.
//! - **The free bitmap**: a reader frees a block after resetting its `written`, `next` and
//!   read position (`Relaxed`: nobody else holds the block), setting its bit with `Release`;
//!   a writer claims it by clearing the bit with an `Acquire` `fetch_and` and so starts from
//!   those resets.
//! - **`Lane::current`, `Lane::oldest`, `Block::read`**: each is touched by one side only (the
//!   lane's writer, or the reader under `reader`): `Relaxed`.

use super::Entry;
use std::sync::Arc;

use crate::sync::{AtomicU32, AtomicU64, Mutex, Ordering, PerThread, UnsafeCell, lock};

/// No block: a lane before its first, the end of a chain.
const NONE: u32 = u32::MAX;

/// Blocks the buffer is cut into, at most: a writer claiming a block scans the free bitmap's
/// words, `MAX_BLOCKS / 64` of them at most.
const MAX_BLOCKS: usize = 4096;

/// Entries of a block, at most: a claim every 4096 calls is far below a call's cost.
const MAX_BLOCK_LEN: usize = 4096;

/// One block's bookkeeping; its entries are `Blocks::entries[start..start + len]`.
struct Block {
    start: usize,
    len: u32,
    /// Entries written by the lane holding the block (see the module docs).
    written: AtomicU32,
    /// The block the lane moved to when this one was full; [`NONE`] while it is the lane's
    /// current block, or free.
    next: AtomicU32,
    /// Entries taken by readers (reader only).
    read: AtomicU32,
}

/// One thread's place in the buffer.
pub(crate) struct Lane {
    /// The block this lane writes into; [`NONE`] before its first (writer only).
    current: AtomicU32,
    /// The first block this lane claimed, published once for readers.
    first: AtomicU32,
    /// The block the next read starts from; [`NONE`] before the first read that found one
    /// (reader only).
    oldest: AtomicU32,
}

impl Lane {
    fn new() -> Lane {
        Lane {
            current: AtomicU32::new(NONE),
            first: AtomicU32::new(NONE),
            oldest: AtomicU32::new(NONE),
        }
    }
}

/// A bounded buffer of entries that threads write into without a locked instruction.
pub(crate) struct Blocks {
    entries: Box<[UnsafeCell<Entry>]>,
    blocks: Box<[Block]>,
    /// Bit `i % 64` of word `i / 64` is set while block `i` is free.
    free: Box<[AtomicU64]>,
    /// One lane per thread that has recorded into the buffer.
    lanes: PerThread<Arc<Lane>>,
    /// Held by a reader: one at a time.
    reader: Mutex<()>,
}

// SAFETY: the entries are the only part that is not `Sync`. Each entry is written only by the
// writer of the lane holding its block, at index `written`, before that index is published
// with `Release`; readers (one at a time, under `reader`) read only entries below a `written`
// they loaded with `Acquire`, and a block is handed to another writer only after the reader
// freed it (a `Release` set of its bit, claimed with an `Acquire` clear). No entry is ever
// written while it is read, nor by two threads at once. `Entry` is `Copy` and `Send`.
unsafe impl Sync for Blocks {}
// SAFETY: as above; the buffer owns its entries, which are `Send`.
unsafe impl Send for Blocks {}

impl Blocks {
    /// A buffer of `capacity` entries (at least 1), in blocks of `capacity / 64` entries
    /// (between 1 and 4096), so that 64 threads can each hold a block. The last block may be
    /// shorter.
    pub(crate) fn new(capacity: usize) -> Blocks {
        let capacity = capacity.max(1);
        let block_len = (capacity / 64)
            .clamp(1, MAX_BLOCK_LEN)
            .max(capacity.div_ceil(MAX_BLOCKS));
        let count = capacity.div_ceil(block_len);
        let blocks: Box<[Block]> = (0..count)
            .map(|i| Block {
                start: i * block_len,
                len: (block_len.min(capacity - i * block_len)) as u32,
                written: AtomicU32::new(0),
                next: AtomicU32::new(NONE),
                read: AtomicU32::new(0),
            })
            .collect();
        let free = (0..count.div_ceil(64))
            .map(|word| {
                let bits = (count - word * 64).min(64);
                AtomicU64::new(if bits == 64 {
                    u64::MAX
                } else {
                    (1 << bits) - 1
                })
            })
            .collect();
        Blocks {
            entries: (0..capacity)
                .map(|_| UnsafeCell::new(Entry::EMPTY))
                .collect(),
            blocks,
            free,
            lanes: PerThread::new(),
            reader: Mutex::new(()),
        }
    }

    /// How many entries it can hold.
    pub(crate) fn capacity(&self) -> usize {
        self.entries.len()
    }

    /// The calling thread's lane, made on its first call. A recording thread keeps it, so
    /// that a push looks up nothing (breaker/recording.rs).
    pub(crate) fn lane(&self) -> Arc<Lane> {
        self.lanes.with(|| Arc::new(Lane::new()), Arc::clone)
    }

    /// Buffers `entry` in the calling thread's lane; `false` if no room was free.
    #[cfg(test)]
    pub(crate) fn push(&self, entry: Entry) -> bool {
        self.push_in(&self.lane(), entry)
    }

    /// Buffers `entry` in `lane`, which is the calling thread's (see [`Blocks::lane`]);
    /// `false` if no room was free.
    #[inline]
    pub(crate) fn push_in(&self, lane: &Lane, entry: Entry) -> bool {
        // Relaxed: the lane's own writer wrote it.
        let current = lane.current.load(Ordering::Relaxed);
        if let Some(block) = self.blocks.get(current as usize) {
            // Relaxed: only this thread writes it while it holds the block.
            let written = block.written.load(Ordering::Relaxed);
            if written < block.len {
                self.write(block, written, entry);
                // Release: publishes the entry to readers (see the module docs).
                block.written.store(written + 1, Ordering::Release);
                return true;
            }
        }
        self.push_to_new_block(lane, current, entry)
    }

    /// Claims a free block for `lane`, whose current block (if any) is full, and buffers
    /// `entry` at its start.
    #[cold]
    #[inline(never)]
    fn push_to_new_block(&self, lane: &Lane, current: u32, entry: Entry) -> bool {
        let start_word = if current == NONE {
            0
        } else {
            current as usize / 64
        };
        let Some(claimed) = self.claim(start_word) else {
            return false;
        };
        let block = &self.blocks[claimed as usize];
        self.write(block, 0, entry);
        // Release: publishes the entry (see the module docs).
        block.written.store(1, Ordering::Release);
        // Release: a reader that finds the block through the link sees its entry.
        match self.blocks.get(current as usize) {
            Some(full) => full.next.store(claimed, Ordering::Release),
            None => lane.first.store(claimed, Ordering::Release),
        }
        // Relaxed: only this lane's writer reads it.
        lane.current.store(claimed, Ordering::Relaxed);
        true
    }

    /// Takes a free block, scanning the bitmap from word `start_word`.
    fn claim(&self, start_word: usize) -> Option<u32> {
        let words = self.free.len();
        for i in 0..words {
            let word_index = (start_word + i) % words;
            let word = &self.free[word_index];
            // Relaxed: a hint; the `fetch_and` below decides.
            let mut bits = word.load(Ordering::Relaxed);
            while bits != 0 {
                let bit = bits.trailing_zeros();
                let mask = 1u64 << bit;
                // Acquire: takes the block as the reader that freed it left it.
                let before = word.fetch_and(!mask, Ordering::Acquire);
                if before & mask != 0 {
                    return Some((word_index * 64) as u32 + bit);
                }
                bits = before & !mask;
            }
        }
        None
    }

    /// Writes `entry` at index `at` of `block`, which the calling writer holds.
    #[inline(always)]
    fn write(&self, block: &Block, at: u32, entry: Entry) {
        if let Some(cell) = self.entries.get(block.start + at as usize) {
            // SAFETY: the calling thread holds `block` and `at` is at or above its
            // published `written`, so no reader reads this entry and no other thread writes
            // it (see the `Sync` impl).
            cell.with_mut(|slot| unsafe { slot.write(entry) });
            #[cfg(target_arch = "x86_64")]
            {
                let ahead = (cell as *const UnsafeCell<Entry>).wrapping_add(8) as *const i8;
                // SAFETY: a prefetch reads and writes nothing, whatever the address.
                unsafe {
                    core::arch::x86_64::_mm_prefetch::<{ core::arch::x86_64::_MM_HINT_ET0 }>(ahead)
                };
            }
        }
    }

    /// Entry `at` of `block`, which is below the `written` the caller loaded with `Acquire`.
    fn read(&self, block: &Block, at: u32) -> Option<Entry> {
        let cell = self.entries.get(block.start + at as usize)?;
        // SAFETY: `at` is below a published `written`: the entry was written before, and is
        // not written again until its block is freed, which only a reader does, and the
        // caller is the one reader.
        Some(cell.with(|slot| unsafe { *slot }))
    }

    /// Takes every entry written so far, each lane's in the order it wrote them, passing each
    /// to `take`; frees every block a lane has moved past.
    pub(crate) fn drain(&self, mut take: impl FnMut(Entry)) {
        let _reader = lock(&self.reader);
        self.lanes.each(|lane| {
            let mut at = Self::unread(lane);
            while let Some(block) = self.blocks.get(at as usize) {
                // Acquire, `next` before `written`: a block the lane has left shows its final
                // count (see the module docs).
                let next = block.next.load(Ordering::Acquire);
                let written = block.written.load(Ordering::Acquire);
                let read = block.read.load(Ordering::Relaxed);
                (read..written)
                    .filter_map(|i| self.read(block, i))
                    .for_each(&mut take);
                if next == NONE {
                    block.read.store(written, Ordering::Relaxed);
                    break;
                }
                self.free(at);
                at = next;
            }
            lane.oldest.store(at, Ordering::Relaxed);
        });
    }

    /// The first block of `lane` a reader has not emptied: where the last read stopped, or
    /// the lane's first block before any read found one. Reader only, under `reader`.
    fn unread(lane: &Lane) -> u32 {
        // Relaxed: only readers write it, under `reader`.
        match lane.oldest.load(Ordering::Relaxed) {
            // Acquire: see the module docs.
            NONE => lane.first.load(Ordering::Acquire),
            oldest => oldest,
        }
    }

    /// Hands block `index`, which its lane has left and a reader has emptied, back for
    /// claiming.
    fn free(&self, index: u32) {
        let block = &self.blocks[index as usize];
        // Relaxed: nobody else holds the block; the `Release` below publishes these.
        block.written.store(0, Ordering::Relaxed);
        block.next.store(NONE, Ordering::Relaxed);
        block.read.store(0, Ordering::Relaxed);
        // Release: see the module docs.
        self.free[index as usize / 64].fetch_or(1 << (index % 64), Ordering::Release);
    }

    /// How many entries it holds now (entries written while it counts may or may not be
    /// among them).
    pub(crate) fn len(&self) -> usize {
        let _reader = lock(&self.reader);
        let mut held = 0;
        self.lanes.each(|lane| {
            let mut at = Self::unread(lane);
            while let Some(block) = self.blocks.get(at as usize) {
                // Acquire: as in `drain`.
                let next = block.next.load(Ordering::Acquire);
                let written = block.written.load(Ordering::Acquire);
                held += written.saturating_sub(block.read.load(Ordering::Relaxed)) as usize;
                at = next;
            }
        });
        held
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::recorder::CallOutcome;

    fn entry(n: u64) -> Entry {
        Entry::admitted(0, n, n, CallOutcome::Success)
    }

    fn drained(blocks: &Blocks) -> Vec<u64> {
        let mut out = Vec::new();
        blocks.drain(|e| out.push(e.at_nanos));
        out
    }

    #[test]
    fn block_sizes_cover_the_capacity_exactly() {
        // Miri runs the small ones only: each entry of a buffer is a write it checks.
        let capacities: &[usize] = if cfg!(miri) {
            &[1, 2, 63, 64, 65, 1000]
        } else {
            &[1, 2, 63, 64, 65, 1000, 4096, 262_145, 10_000_000]
        };
        for &capacity in capacities {
            let b = Blocks::new(capacity);
            assert_eq!(b.capacity(), capacity);
            let total: usize = b.blocks.iter().map(|b| b.len as usize).sum();
            assert_eq!(total, capacity, "{capacity}");
            assert!(b.blocks.len() <= MAX_BLOCKS, "{capacity}");
            assert!(b.blocks.iter().all(|b| b.len >= 1));
        }
        assert_eq!(Blocks::new(1000).blocks[0].len, 15);
        if !cfg!(miri) {
            assert_eq!(Blocks::new(1 << 20).blocks[0].len, 4096);
        }
    }

    #[test]
    fn one_thread_fills_every_block_then_drops() {
        let b = Blocks::new(10);
        for n in 0..10 {
            assert!(b.push(entry(n)));
        }
        assert!(!b.push(entry(10)));
        assert_eq!(b.len(), 10);
        assert_eq!(drained(&b), (0..10).collect::<Vec<_>>());
        assert_eq!(b.len(), 0);
        // Every block but the one the lane still holds (full) is free again.
        assert!(b.push(entry(11)));
        assert_eq!(drained(&b), vec![11]);
    }

    #[test]
    fn a_drain_takes_a_block_being_written_without_taking_it_twice() {
        let b = Blocks::new(8);
        b.push(entry(0));
        assert_eq!(drained(&b), vec![0]);
        b.push(entry(1));
        b.push(entry(2));
        assert_eq!(drained(&b), vec![1, 2]);
        assert!(drained(&b).is_empty());
    }

    #[test]
    fn threads_share_the_capacity_and_nothing_is_lost_or_doubled() {
        let threads: u64 = if cfg!(miri) { 2 } else { 4 };
        let per_thread: u64 = if cfg!(miri) { 40 } else { 20_000 };
        let b = Blocks::new(64);
        let mut seen = Vec::new();
        let dropped = std::thread::scope(|s| {
            let writers: Vec<_> = (0..threads)
                .map(|t| {
                    let b = &b;
                    s.spawn(move || {
                        (0..per_thread)
                            .filter(|n| !b.push(entry(t * per_thread + n)))
                            .count() as u64
                    })
                })
                .collect();
            while !writers.iter().all(|w| w.is_finished()) {
                b.drain(|e| seen.push(e.at_nanos));
            }
            writers.into_iter().map(|w| w.join().unwrap()).sum::<u64>()
        });
        b.drain(|e| seen.push(e.at_nanos));
        assert_eq!(seen.len() as u64 + dropped, threads * per_thread);
        let mut sorted = seen.clone();
        sorted.sort_unstable();
        sorted.dedup();
        assert_eq!(sorted.len(), seen.len(), "no entry taken twice");
        // Each thread's entries come out in the order it wrote them.
        for t in 0..threads {
            let own: Vec<u64> = seen
                .iter()
                .copied()
                .filter(|n| n / per_thread == t)
                .collect();
            assert!(own.windows(2).all(|w| w[0] < w[1]));
        }
    }
}
