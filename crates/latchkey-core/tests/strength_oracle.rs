//! The small guess estimate (`auth/guess.rs`, shipped) against zxcvbn (the reference, tests
//! only) over a corpus of the passwords people pick: common ones, the same dressed up, keyboard
//! walks, passphrases and random strings. Both are read as the same strength bands (log10
//! guesses: under 6 weak, 6 to 10 fair, 10 to 14 good, 14 and more strong).

#![allow(clippy::unwrap_used, clippy::expect_used)] // tests fail loudly by design

use latchkey_core::auth::guess;
use rand::{Rng, SeedableRng};

/// The band of a log10 guess count: 0 weak, 1 fair, 2 good, 3 strong.
fn band(log10: f64) -> i32 {
    match log10 {
        g if g < 6.0 => 0,
        g if g < 10.0 => 1,
        g if g < 14.0 => 2,
        _ => 3,
    }
}

fn corpus() -> Vec<(&'static str, Vec<String>)> {
    let list = include_str!("../src/auth/common-passwords.txt");
    let common: Vec<String> = list.lines().step_by(100).map(str::to_string).collect();
    let dressed: Vec<String> = list
        .lines()
        .step_by(400)
        .filter(|w| w.len() >= 5)
        .flat_map(|w| {
            let mut title = w.to_string();
            title[..1].make_ascii_uppercase();
            let leet: String = w
                .chars()
                .map(|c| match c {
                    'a' => '@',
                    'o' => '0',
                    'e' => '3',
                    's' => '$',
                    c => c,
                })
                .collect();
            [format!("{title}1!"), format!("{w}2024"), leet]
        })
        .collect();
    let walks = [
        "qwertyuiop",
        "asdfghjkl",
        "zxcvbnm,./",
        "1qaz2wsx3edc",
        "qazwsxedc",
        "poiuytrewq",
        "1234qwer",
        "qwerty123456",
        "asdfjkl;",
        "mnbvcxz",
        "!qaz@wsx",
        "zaq12wsx",
    ];
    let vocabulary = [
        "lantern", "quarry", "violet", "harbour", "marble", "tundra", "pepper", "orbit", "walnut", "canyon", "ferry",
        "glacier", "saddle", "thistle", "ember", "copper", "meadow", "anchor", "puzzle", "willow",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let phrases: Vec<String> = (0..40)
        .map(|i| {
            let words: Vec<&str> = (0..3 + i % 2).map(|_| vocabulary[rng.random_range(0..vocabulary.len())]).collect();
            words.join(if i % 3 == 0 { " " } else { "-" })
        })
        .collect();
    let printable: Vec<char> = (33u8..127).map(char::from).collect();
    let random: Vec<String> =
        (0..60).map(|i| (0..8 + i % 9).map(|_| printable[rng.random_range(0..printable.len())]).collect()).collect();
    vec![
        ("common", common),
        ("dressed", dressed),
        ("walks", walks.iter().map(|w| w.to_string()).collect()),
        ("passphrases", phrases),
        ("random", random),
    ]
}

#[test]
fn the_small_estimate_agrees_with_zxcvbn_within_one_band_and_is_never_below_it_for_random_strings() {
    let (mut total, mut same, mut within_one) = (0, 0, 0);
    for (kind, passwords) in corpus() {
        let (mut kind_same, mut kind_within) = (0, 0);
        for password in &passwords {
            let ours = band(guess::estimate(password).log10_guesses);
            let theirs = band(zxcvbn::zxcvbn(password, &[]).guesses_log10());
            kind_same += usize::from(ours == theirs);
            kind_within += usize::from((ours - theirs).abs() <= 1);
            if kind == "random" {
                // zxcvbn charges a brute-forced character 10 guesses whatever it is; the estimate
                // charges the size of the classes used (94 for all of printable ASCII), which is
                // what a random string takes. So it is never below zxcvbn's band here, and at most
                // two above.
                assert!((0..=2).contains(&(ours - theirs)), "{password:?}: ours {ours}, zxcvbn {theirs}");
            } else {
                // What people pick from memory: within one band of zxcvbn's, every one.
                assert!((ours - theirs).abs() <= 1, "{kind} {password:?}: ours {ours}, zxcvbn {theirs}");
            }
        }
        println!(
            "figure: strength bands, {kind}: {kind_same} of {} the same as zxcvbn's, {kind_within} within one band",
            passwords.len()
        );
        total += passwords.len();
        same += kind_same;
        within_one += kind_within;
    }
    println!("figure: strength bands: {same} of {total} the same as zxcvbn's, {within_one} within one band");
}
