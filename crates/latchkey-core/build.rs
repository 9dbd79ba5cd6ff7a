//! Encodes the common-password list (`src/auth/common-passwords.txt`, sorted) for the binary:
//! front coding, each word stored as how many leading bytes it shares with the previous one and
//! the rest, with a full word every BLOCK words so that a lookup can binary-search the blocks.
//! The list is a fifth of the installer's compressed size as plain text; this is 30% smaller
//! after compression.

use std::fmt::Write as _;
use std::path::PathBuf;

const BLOCK: usize = 32;

fn main() {
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
    let out = PathBuf::from(std::env::var("OUT_DIR").unwrap_or_default());
    std::fs::write(out.join("common-passwords.bin"), &blob).unwrap_or_else(|e| panic!("writing the list: {e}"));
    let mut table = format!("const BLOCKS: [u32; {}] = [", offsets.len());
    for offset in &offsets {
        let _ = write!(table, "{offset},");
    }
    table.push_str("];\n");
    std::fs::write(out.join("common-passwords-blocks.rs"), table).unwrap_or_else(|e| panic!("writing the index: {e}"));
}
