//! Encodes two tables kept as text in the source for the binary, where text costs installer size:
//!
//! - the common-password list (`src/auth/common-passwords.txt`, sorted): front coding, each word
//!   stored as how many leading bytes it shares with the previous one and the rest, with a full
//!   word every BLOCK words so that a lookup can binary-search the blocks. The list is a fifth of
//!   the installer's compressed size as plain text; this is 30% smaller after compression.
//! - the look-alike table (`src/auth/confusables.txt`): see `confusables`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const BLOCK: usize = 64;
const CONFUSABLE_BLOCK: usize = 32;

fn main() {
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    passwords(&out);
    confusables(&out);
}

fn passwords(out: &Path) {
    let source = "src/auth/common-passwords.txt";
    println!("cargo:rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("{source}: {e}"));
    let mut blob = Vec::new();
    let mut offsets = Vec::new();
    let mut previous: &[u8] = b"";
    for (i, word) in text.lines().enumerate() {
        let word = word.as_bytes();
        assert!(word.len() < 256 && !word.is_empty(), "{source}: line {}", i + 1);
        assert!(word > previous, "{source}: not sorted at line {}", i + 1);
        let shared = if i % BLOCK == 0 {
            offsets.push(blob.len());
            0
        } else {
            word.iter().zip(previous).take_while(|(a, b)| a == b).count()
        };
        blob.push(u8::try_from(shared).unwrap_or(0));
        blob.extend_from_slice(&word[shared..]);
        blob.push(b'\n');
        previous = word;
    }
    std::fs::write(out.join("common-passwords.bin"), &blob).unwrap_or_else(|e| panic!("writing the list: {e}"));
    let mut table = format!("const BLOCKS: [u32; {}] = [", offsets.len());
    for offset in &offsets {
        let _ = write!(table, "{offset},");
    }
    table.push_str("];\n");
    std::fs::write(out.join("common-passwords-blocks.rs"), table).unwrap_or_else(|e| panic!("writing the index: {e}"));
}

/// The look-alike table as two streams, which compress to 60% of the hex text: the characters as
/// LEB128 varints, each the distance from the previous one (from 0 at the start of a block of
/// CONFUSABLE_BLOCK), and their prototypes as UTF-8, one per line. An index gives each block's
/// first character and where the block starts in both streams, for a binary search.
fn confusables(out: &Path) {
    let source = "src/auth/confusables.txt";
    println!("cargo:rerun-if-changed={source}");
    let text = std::fs::read_to_string(source).unwrap_or_else(|e| panic!("{source}: {e}"));
    let (mut keys, mut prototypes) = (Vec::new(), String::new());
    let mut index = Vec::new();
    let (mut previous, mut last) = (0, None);
    for (i, line) in text.lines().enumerate() {
        let mut fields = line
            .split(' ')
            .map(|hex| u32::from_str_radix(hex, 16).unwrap_or_else(|_| panic!("{source}: line {}: {hex:?}", i + 1)));
        let key = fields.next().unwrap_or_else(|| panic!("{source}: line {} is empty", i + 1));
        assert!(last < Some(key), "{source}: not sorted at line {}", i + 1);
        last = Some(key);
        if i % CONFUSABLE_BLOCK == 0 {
            index.push((key, keys.len(), prototypes.len()));
            previous = 0;
        }
        let mut delta = key - previous;
        while delta >= 0x80 {
            keys.push(0x80 | (delta & 0x7f) as u8);
            delta >>= 7;
        }
        keys.push(delta as u8);
        previous = key;
        let prototype: String =
            fields.map(|c| char::from_u32(c).unwrap_or_else(|| panic!("{source}: line {}", i + 1))).collect();
        assert!(!prototype.is_empty() && !prototype.contains('\n'), "{source}: line {}", i + 1);
        prototypes.push_str(&prototype);
        prototypes.push('\n');
    }
    std::fs::write(out.join("confusable-chars.bin"), &keys).unwrap_or_else(|e| panic!("writing the table: {e}"));
    std::fs::write(out.join("confusable-prototypes.txt"), &prototypes)
        .unwrap_or_else(|e| panic!("writing the table: {e}"));
    let mut table = format!("const INDEX: [(u32, u16, u16); {}] = [", index.len());
    for (key, at, prototype_at) in &index {
        let (at, prototype_at) = (u16::try_from(*at), u16::try_from(*prototype_at));
        let (Ok(at), Ok(prototype_at)) = (at, prototype_at) else { panic!("{source}: the table outgrew its index") };
        let _ = write!(table, "({key},{at},{prototype_at}),");
    }
    table.push_str("];\n");
    std::fs::write(out.join("confusables-index.rs"), table).unwrap_or_else(|e| panic!("writing the index: {e}"));
}
