//! UTS #39 skeletons: names that look alike have the same one. The unicode-security crate's
//! `skeleton`, with its table kept as text (`confusables.txt`, written by
//! `scripts/make-confusables.py` from that crate's table) and encoded at build time (build.rs)
//! into two compact streams searched in place: the crate's table of 6,712 slices added 0.35 MB
//! to the binary, 60 kB to the `.deb`, which its size budget does not have room for. The table
//! keeps only characters a username's key can hold (the mathematical alphabets, for one, are
//! folded to ASCII by NFKC before they get here), and a test holds the two equal for every
//! character a username can hold.

use unicode_normalization::UnicodeNormalization;

/// The characters that have a prototype, ascending: LEB128 varints, each the distance from the
/// previous character, or from 0 at the start of a block.
const CHARS: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/confusable-chars.bin"));
/// Their prototypes, in the same order, one per line.
const PROTOTYPES: &str = include_str!(concat!(env!("OUT_DIR"), "/confusable-prototypes.txt"));
// `INDEX`: each block's first character and where the block starts in CHARS and PROTOTYPES.
include!(concat!(env!("OUT_DIR"), "/confusables-index.rs"));

/// Characters that are skipped (UTS #39 drops Default_Ignorable_Code_Point before mapping).
const DEFAULT_IGNORABLE: [(u32, u32); 27] = [
    (0xad, 0xad),
    (0x34f, 0x34f),
    (0x61c, 0x61c),
    (0x115f, 0x1160),
    (0x17b4, 0x17b5),
    (0x180b, 0x180d),
    (0x180e, 0x180e),
    (0x180f, 0x180f),
    (0x200b, 0x200f),
    (0x202a, 0x202e),
    (0x2060, 0x2064),
    (0x2065, 0x2065),
    (0x2066, 0x206f),
    (0x3164, 0x3164),
    (0xfe00, 0xfe0f),
    (0xfeff, 0xfeff),
    (0xffa0, 0xffa0),
    (0xfff0, 0xfff8),
    (0x1bca0, 0x1bca3),
    (0x1d173, 0x1d17a),
    (0xe0000, 0xe0000),
    (0xe0001, 0xe0001),
    (0xe0002, 0xe001f),
    (0xe0020, 0xe007f),
    (0xe0080, 0xe00ff),
    (0xe0100, 0xe01ef),
    (0xe01f0, 0xe0fff),
];

pub fn skeleton(s: &str) -> String {
    let mut mapped = String::with_capacity(s.len());
    for c in s.nfd().filter(|c| !ignorable(*c)) {
        match prototype(c) {
            Some(prototype) => mapped.push_str(prototype),
            None => mapped.push(c),
        }
    }
    mapped.nfd().collect()
}

fn ignorable(c: char) -> bool {
    let c = u32::from(c);
    DEFAULT_IGNORABLE.iter().any(|(from, to)| (*from..=*to).contains(&c))
}

/// The prototype `c` is confusable with, if it has one: the block that can hold `c`, read from
/// its start.
fn prototype(c: char) -> Option<&'static str> {
    let c = u32::from(c);
    let block = INDEX.partition_point(|&(first, _, _)| first <= c).checked_sub(1)?;
    let (_, at, prototype_at) = INDEX.get(block)?;
    let (mut at, mut prototype_at) = (usize::from(*at), usize::from(*prototype_at));
    let end = INDEX.get(block + 1).map_or(CHARS.len(), |&(_, next, _)| usize::from(next));
    let mut key = 0;
    while at < end {
        let (mut delta, mut shift) = (0, 0);
        loop {
            let byte = *CHARS.get(at)?;
            at += 1;
            delta |= u32::from(byte & 0x7f) << shift;
            shift += 7;
            if byte < 0x80 {
                break;
            }
        }
        key += delta;
        let line_end = prototype_at + PROTOTYPES.get(prototype_at..)?.find('\n')?;
        if key >= c {
            return if key == c { PROTOTYPES.get(prototype_at..line_end) } else { None };
        }
        prototype_at = line_end + 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_character_a_username_can_hold_has_the_skeleton_unicode_security_gives() {
        use crate::auth::validate::username_key;
        use unicode_normalization::UnicodeNormalization;
        let mut checked = 0;
        for c in (0..=0x10ffff).filter_map(char::from_u32) {
            let display: String = c.to_string().nfkc().collect();
            if !display.chars().all(|c| c.is_alphanumeric() || "@.+-_".contains(c)) {
                continue;
            }
            let key = username_key(&display);
            let theirs: String = unicode_security::skeleton(&key).collect();
            assert_eq!(skeleton(&key), theirs, "U+{:04X}", u32::from(c));
            checked += 1;
        }
        assert!(checked > 100_000, "{checked}");
        for name in ["paypal", "p\u{430}yp\u{430}l", "rnicrosoft", "zo\u{eb}", "\u{3b1}\u{3c2}", "\u{1d41a}dmin"] {
            let key = username_key(name);
            assert_eq!(skeleton(&key), unicode_security::skeleton(&key).collect::<String>(), "{name}");
        }
    }

    #[test]
    fn the_table_is_sorted_and_well_formed() {
        let lines: Vec<&str> = include_str!("confusables.txt").lines().collect();
        assert!(lines.len() > 2_000);
        assert!(lines.windows(2).all(|w| w[0][..5] < w[1][..5]));
        assert!(lines.iter().all(|l| l.len() > 6 && l.as_bytes()[5] == b' '));
    }

    #[test]
    fn every_line_of_the_table_is_found_as_written_and_nothing_between() {
        let hex = |h: &str| char::from_u32(u32::from_str_radix(h, 16).unwrap()).unwrap();
        let mut previous = None;
        for line in include_str!("confusables.txt").lines() {
            let mut fields = line.split(' ');
            let c = hex(fields.next().unwrap());
            let written: String = fields.map(hex).collect();
            assert_eq!(prototype(c), Some(written.as_str()), "{line}");
            // The characters just before and after one in the table have no entry of their own
            // unless the table lists them.
            if let Some(before) = char::from_u32(u32::from(c) - 1).filter(|b| Some(*b) != previous) {
                assert_eq!(prototype(before), None, "before {line}");
            }
            previous = Some(c);
        }
        let last = previous.unwrap();
        assert_eq!(prototype(char::from_u32(u32::from(last) + 1).unwrap()), None);
        assert_eq!(prototype('\0'), None);
        assert_eq!(prototype(char::MAX), None);
    }
}
