//! How many guesses a password would take, estimated in the manner of zxcvbn but small: the
//! password is read as the cheapest sequence of pieces an attacker tries first (common passwords,
//! also reversed or with look-alike characters; repeats; sequences like `abcd` or `9753`; walks
//! along the keyboard), with brute force over the characters' classes for the rest. The pieces'
//! guesses multiply, times the number of ways to order that many pieces.
//!
//! zxcvbn itself would not fit: its word lists alone compress to 0.39 MB, more than the room left
//! in the installer's size budget.

use std::collections::HashMap;
use std::sync::OnceLock;

use super::common_passwords;

/// The common list is sorted by bytes, not by rank, so every entry counts as a mid-list guess.
const WORD_GUESSES: f64 = 10_000.0;
/// Pieces shorter than this are not looked up (the list's shortest entries have 3 characters).
const WORD_MIN: usize = 3;
/// And longer than this neither (its longest have 20).
const WORD_MAX: usize = 20;
/// Sequences step by at most this much (`aceg`, `9630`), as in zxcvbn.
const SEQUENCE_MAX_STEP: i64 = 5;
/// Keyboard walks longer than this are read as several walks; it bounds the work per password.
const WALK_MAX: usize = 32;
/// zxcvbn's figures for a QWERTY keyboard: 47 starting keys, 4.6 neighbours on average.
const WALK_STARTS: f64 = 47.0;
const WALK_DEGREE: f64 = 4.6;

/// The cheapest reading of a password.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// log10 of the number of guesses.
    pub log10_guesses: f64,
    /// Every piece of that reading is a repeat, a sequence or a keyboard walk.
    pub only_patterns: bool,
    /// No piece of that reading had to be brute-forced: it is all common passwords and patterns.
    pub nothing_random: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Word,
    Repeat,
    Sequence,
    Walk,
    BruteForce,
}

#[derive(Debug, Clone, Copy)]
struct Piece {
    start: usize,
    end: usize,
    log10: f64,
    kind: Kind,
}

pub fn estimate(password: &str) -> Estimate {
    let chars: Vec<char> = password.chars().collect();
    estimate_chars(&chars, &mut HashMap::new())
}

/// The letter a look-alike character stands for ("p@55w0rd"), shared with the common-list check.
pub fn unleet(c: char) -> char {
    match c {
        '@' | '4' => 'a',
        '0' => 'o',
        '1' | '!' => 'i',
        '3' => 'e',
        '$' | '5' => 's',
        '7' => 't',
        c => c,
    }
}

/// `memo` keeps the estimates of repeated blocks, which are estimated like passwords of their own.
fn estimate_chars(chars: &[char], memo: &mut HashMap<String, Estimate>) -> Estimate {
    let n = chars.len();
    if n == 0 {
        return Estimate { log10_guesses: 0.0, only_patterns: false, nothing_random: false };
    }
    let text: String = chars.iter().collect();
    if let Some(known) = memo.get(&text) {
        return *known;
    }
    let lower: Vec<char> = chars.iter().map(|c| c.to_lowercase().next().unwrap_or(*c)).collect();
    let mut ending_at: Vec<Vec<Piece>> = vec![Vec::new(); n + 1];
    let mut add = |piece: Piece| ending_at[piece.end].push(piece);
    words(chars, &lower, &mut add);
    repeats(chars, &lower, memo, &mut add);
    sequences(&lower, &mut add);
    walks(chars, &mut add);
    brute_force(chars, &mut add);

    // best[k][l]: the least log10 guesses of `l` pieces covering the first `k` characters, and the
    // last of those pieces (to read the pieces back).
    let mut best: Vec<Vec<Option<(f64, Piece)>>> = vec![vec![None; n + 1]; n + 1];
    for k in 1..=n {
        for piece in &ending_at[k] {
            for l in 1..=k {
                let before =
                    if piece.start == 0 { (l == 1).then_some(0.0) } else { best[piece.start][l - 1].map(|(g, _)| g) };
                let Some(before) = before else { continue };
                let total = before + piece.log10;
                if best[k][l].is_none_or(|(g, _)| total < g) {
                    best[k][l] = Some((total, *piece));
                }
            }
        }
    }
    let mut chosen: Option<(f64, usize)> = None;
    for (l, reading) in best[n].iter().enumerate().skip(1) {
        if let Some((g, _)) = reading {
            let total = g + log10_factorial(l);
            if chosen.is_none_or(|(least, _)| total < least) {
                chosen = Some((total, l));
            }
        }
    }
    // Brute force always covers the whole password, so there is a reading.
    let (log10_guesses, mut l) = chosen.unwrap_or((0.0, 0));
    let (mut only_patterns, mut nothing_random) = (l > 0, l > 0);
    let mut k = n;
    while l > 0 {
        let Some((_, piece)) = best[k][l] else { break };
        only_patterns &= matches!(piece.kind, Kind::Repeat | Kind::Sequence | Kind::Walk);
        nothing_random &= piece.kind != Kind::BruteForce;
        k = piece.start;
        l -= 1;
    }
    let estimate = Estimate { log10_guesses, only_patterns, nothing_random };
    memo.insert(text, estimate);
    estimate
}

/// Entries of the common list, as typed, reversed or with look-alike characters.
fn words(chars: &[char], lower: &[char], add: &mut impl FnMut(Piece)) {
    let n = chars.len();
    for start in 0..n {
        for end in (start + WORD_MIN)..=n.min(start + WORD_MAX) {
            let typed: String = lower[start..end].iter().collect();
            let plain: String = lower[start..end].iter().map(|c| unleet(*c)).collect();
            let reversed: String = typed.chars().rev().collect();
            let case = log10_case_variants(&chars[start..end]);
            let mut found =
                |extra: f64| add(Piece { start, end, log10: WORD_GUESSES.log10() + case + extra, kind: Kind::Word });
            if common_passwords::contains(&typed) {
                found(0.0);
            } else if common_passwords::contains(&reversed) {
                found(2f64.log10());
            } else if plain != typed && common_passwords::contains(&plain) {
                found(log10_leet_variants(&lower[start..end]));
            }
        }
    }
}

/// A block typed two or more times (`abcabc`), or one character three or more times.
fn repeats(chars: &[char], lower: &[char], memo: &mut HashMap<String, Estimate>, add: &mut impl FnMut(Piece)) {
    let n = chars.len();
    for start in 0..n {
        for size in 1..=(n - start) / 2 {
            let block = &lower[start..start + size];
            // A block that is itself a repeat is found with its own, smaller block.
            if (1..size).any(|p| size % p == 0 && block.chunks(p).all(|c| c == &block[..p])) {
                continue;
            }
            let mut times = 1;
            while start + (times + 1) * size <= n && lower[start + times * size..start + (times + 1) * size] == *block {
                times += 1;
            }
            let least = if size == 1 { 3 } else { 2 };
            if times < least {
                continue;
            }
            let base = estimate_chars(&chars[start..start + size], memo).log10_guesses;
            for t in least..=times {
                add(Piece { start, end: start + t * size, log10: base + (t as f64).log10(), kind: Kind::Repeat });
            }
        }
    }
}

/// Three or more characters of one kind, each the same step from the last (`abcd`, `9753`, `zyx`).
fn sequences(lower: &[char], add: &mut impl FnMut(Piece)) {
    let n = lower.len();
    let kind = |c: char| {
        if c.is_ascii_lowercase() {
            Some(0)
        } else if c.is_ascii_digit() {
            Some(1)
        } else if c.is_alphabetic() {
            Some(2)
        } else {
            None
        }
    };
    for start in 0..n.saturating_sub(2) {
        let Some(first_kind) = kind(lower[start]) else { continue };
        let step = lower[start + 1] as i64 - lower[start] as i64;
        if step == 0 || step.abs() > SEQUENCE_MAX_STEP {
            continue;
        }
        let mut end = start + 1;
        while end < n && kind(lower[end]) == Some(first_kind) && lower[end] as i64 - lower[end - 1] as i64 == step {
            end += 1;
        }
        // Starting at an end of the alphabet or the digits is the first thing tried.
        let starts = if "az019".contains(lower[start]) {
            4.0
        } else if first_kind == 1 {
            10.0
        } else {
            26.0
        };
        let direction = if step < 0 { 2.0 } else { 1.0 };
        for stop in (start + 3)..=end {
            let length = (stop - start) as f64;
            let guesses = starts * direction * length * step.abs() as f64;
            add(Piece { start, end: stop, log10: guesses.log10(), kind: Kind::Sequence });
        }
    }
}

/// US QWERTY: each row unshifted and shifted, and how far right its first key sits.
const KEY_ROWS: [(&str, &str, f64); 4] = [
    ("`1234567890-=", "~!@#$%^&*()_+", 0.0),
    ("qwertyuiop[]\\", "QWERTYUIOP{}|", 1.5),
    ("asdfghjkl;'", "ASDFGHJKL:\"", 1.75),
    ("zxcvbnm,./", "ZXCVBNM<>?", 2.25),
];

/// A key: its row, its position across, and whether Shift is held.
type Key = (i64, f64, bool);

fn key(c: char) -> Option<Key> {
    KEY_ROWS.iter().enumerate().find_map(|(row, (plain, shifted, offset))| {
        let at = |keys: &str| keys.chars().position(|k| k == c);
        let (column, shift) = match (at(plain), at(shifted)) {
            (Some(column), _) => (column, false),
            (None, Some(column)) => (column, true),
            (None, None) => return None,
        };
        Some((row as i64, offset + column as f64, shift))
    })
}

/// The way from one key to the next when they touch (rows up or down, and left or right), so
/// that turns can be counted.
fn neighbour(a: Key, b: Key) -> Option<(i64, bool)> {
    let (rows, across) = (b.0 - a.0, b.1 - a.1);
    let touching = match rows {
        0 => (across.abs() - 1.0).abs() < 1e-9,
        -1 | 1 => across.abs() <= 1.0,
        _ => false,
    };
    touching.then_some((rows, across > 0.0))
}

/// Three or more keys, each touching the last (`qwerty`, `zaq1`, `;lkj`).
fn walks(chars: &[char], add: &mut impl FnMut(Piece)) {
    let n = chars.len();
    let keys: Vec<Option<Key>> = chars.iter().map(|c| key(*c)).collect();
    for start in 0..n {
        let Some(first) = keys[start] else { continue };
        let (mut turns, mut shifted, mut direction, mut previous) = (0, usize::from(first.2), None, first);
        for (end, here) in keys.iter().enumerate().take(n.min(start + WALK_MAX)).skip(start + 1) {
            let Some(here) = *here else { break };
            let Some(way) = neighbour(previous, here) else { break };
            if direction != Some(way) {
                turns += 1;
                direction = Some(way);
            }
            shifted += usize::from(here.2);
            previous = here;
            let length = end + 1 - start;
            if length >= 3 {
                let log10 = log10_walk_guesses(length, turns) + log10_shift_variants(shifted, length - shifted);
                add(Piece { start, end: end + 1, log10, kind: Kind::Walk });
            }
        }
    }
}

/// zxcvbn's count: every walk up to this length with up to this many turns, from any key.
/// Tabled once, as walks are looked at from every starting character.
fn log10_walk_guesses(length: usize, turns: usize) -> f64 {
    static TABLE: OnceLock<Vec<Vec<f64>>> = OnceLock::new();
    let table = TABLE.get_or_init(|| {
        (0..=WALK_MAX)
            .map(|turns| {
                (0..=WALK_MAX)
                    .map(|length| {
                        let mut guesses = 0.0;
                        for i in 2..=length {
                            for j in 1..=turns.min(i - 1) {
                                guesses += binomial(i - 1, j - 1) * WALK_STARTS * WALK_DEGREE.powi(j as i32);
                            }
                        }
                        guesses.log10()
                    })
                    .collect()
            })
            .collect()
    });
    table[turns.min(WALK_MAX)][length.min(WALK_MAX)]
}

/// Any run of characters, at the size of the classes it draws on: lower case, upper case, digits,
/// ASCII symbols and space, anything else.
fn brute_force(chars: &[char], add: &mut impl FnMut(Piece)) {
    let n = chars.len();
    for start in 0..n {
        let mut classes = [false; 5];
        for end in (start + 1)..=n {
            let c = chars[end - 1];
            let class = if c.is_ascii_lowercase() {
                0
            } else if c.is_ascii_uppercase() {
                1
            } else if c.is_ascii_digit() {
                2
            } else if c.is_ascii() {
                3
            } else {
                4
            };
            classes[class] = true;
            let size: f64 =
                [26.0, 26.0, 10.0, 33.0, 100.0].iter().zip(classes).filter(|(_, on)| *on).map(|(s, _)| s).sum();
            let length = end - start;
            // zxcvbn's floor: nothing is cheaper than 10 guesses a character, 50 for more.
            let floor = if length == 1 { 10f64 } else { 50f64 };
            let log10 = (length as f64 * size.log10()).max(floor.log10());
            add(Piece { start, end, log10, kind: Kind::BruteForce });
        }
    }
}

/// Capitals anywhere but at the start or end multiply the guesses (zxcvbn's rule).
fn log10_case_variants(word: &[char]) -> f64 {
    let upper = word.iter().filter(|c| c.is_uppercase()).count();
    let lower = word.iter().filter(|c| c.is_lowercase()).count();
    if upper == 0 {
        return 0.0;
    }
    let at_an_end =
        upper == 1 && (word.first().is_some_and(|c| c.is_uppercase()) || word.last().is_some_and(|c| c.is_uppercase()));
    if lower == 0 || at_an_end {
        return 2f64.log10();
    }
    sum_of_binomials(upper + lower, upper.min(lower)).log10()
}

/// Look-alike characters: which of the replaceable letters were replaced.
fn log10_leet_variants(word: &[char]) -> f64 {
    let replaced = word.iter().filter(|c| unleet(**c) != **c).count();
    let kept = word.iter().filter(|c| "aoiest".contains(**c)).count();
    if kept == 0 {
        return 2f64.log10();
    }
    sum_of_binomials(replaced + kept, replaced.min(kept)).log10()
}

fn log10_shift_variants(shifted: usize, plain: usize) -> f64 {
    match (shifted, plain) {
        (0, _) => 0.0,
        (_, 0) => 2f64.log10(),
        (s, p) => sum_of_binomials(s + p, s.min(p)).log10(),
    }
}

/// C(n, 1) + … + C(n, k).
fn sum_of_binomials(n: usize, k: usize) -> f64 {
    (1..=k).map(|i| binomial(n, i)).sum()
}

fn binomial(n: usize, k: usize) -> f64 {
    (0..k).fold(1.0, |acc, i| acc * (n - i) as f64 / (i + 1) as f64)
}

fn log10_factorial(n: usize) -> f64 {
    (2..=n).map(|i| (i as f64).log10()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log10(p: &str) -> f64 {
        estimate(p).log10_guesses
    }

    #[test]
    fn repeats_sequences_and_walks_are_read_as_patterns() {
        for p in [
            "aaaaaaaa",
            "abcdefgh",
            "hgfedcba",
            "12345678",
            "87654321",
            "qwertyuiop",
            "poiuytrewq",
            "zxcvbnm,./",
            "abcabcabc",
            "abcdefgh12345678",
            "asdfghqwerty",
            "zyxwvuts98765432",
            "kkkk3333mmmm",
        ] {
            let e = estimate(p);
            assert!(e.only_patterns, "{p}: {e:?}");
        }
        for p in ["aaaaaaaa", "abcdefgh", "87654321", "qwertyuiop", "abcabcabc"] {
            assert!(log10(p) < 4.0, "{p}: {}", log10(p));
        }
    }

    #[test]
    fn common_words_count_as_few_guesses_and_random_text_as_many() {
        assert!(log10("monkeydragon") < log10("mqnkeydrxgon"));
        assert!(log10("p@55w0rd") < 6.0);
        assert!(log10("drowssap") < 6.0, "reversed");
        assert!(log10("vT9#qLm2!xR4pq") > 20.0);
        assert!(!estimate("vT9#qLm2!xR4pq").only_patterns);
        assert!(!estimate("correct horse battery").only_patterns);
        let joined = estimate("5tgb6yhn7ujm");
        assert!(joined.nothing_random && !joined.only_patterns, "a listed walk and a walk: {joined:?}");
        assert!(!estimate("sunshine4u!").nothing_random);
    }

    #[test]
    fn capitals_in_the_middle_cost_more_than_at_the_start() {
        assert!(log10("Monkeydragon") < log10("monKeydRagon"));
        assert!(log10("monkeydragon") < log10("Monkeydragon"));
    }

    #[test]
    fn keyboard_neighbours_follow_the_staggered_rows() {
        let touch = |a: char, b: char| neighbour(key(a).unwrap(), key(b).unwrap()).is_some();
        for (a, b) in [('q', 'w'), ('q', 'a'), ('w', 'a'), ('s', 'e'), ('1', 'q'), ('z', 's'), ('x', 'd'), ('p', '[')] {
            assert!(touch(a, b) && touch(b, a), "{a}{b}");
        }
        for (a, b) in [('q', 's'), ('z', 'd'), ('a', 'e'), ('1', 'a'), ('q', 'q'), ('p', 'a')] {
            assert!(!touch(a, b), "{a}{b}");
        }
        assert_eq!(key('!'), Some((0, 1.0, true)));
        assert_eq!(key('Q'), Some((1, 1.5, true)));
    }

    #[test]
    fn the_longest_password_is_estimated_quickly() {
        let started = std::time::Instant::now();
        for p in ["a".repeat(128), "ab".repeat(64), "qwas".repeat(32), "zebra lantern quilt ".repeat(6)] {
            estimate(&p);
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
    }
}
