//! The password policy (NIST SP 800-63B): length limits, no composition rules, no common or
//! breached-style passwords, nothing built from the username or the email, nothing an attacker
//! guesses early (repeats, sequences, keyboard walks); strength is the estimated number of guesses.
//! The sign-up screen's live hint calls `check` too, so no rule lives in two places.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::{common_passwords, guess};
use crate::limits::{PASSWORD_MAX, PASSWORD_MIN};

#[derive(Debug, Clone, Copy, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum Strength {
    /// Refused: breaks a rule.
    Weak,
    Fair,
    Good,
    Strong,
}

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PasswordCheck {
    pub acceptable: bool,
    pub strength: Strength,
    /// The first rule broken, or advice for a weak-but-allowed password; a sentence.
    pub hint: String,
}

/// Below this many guesses (log10) a password is refused: zxcvbn's "very guessable".
const LOG10_MIN_GUESSES: f64 = 6.0;
/// From here a password is good, from the next strong; zxcvbn's top score starts at 10.
const LOG10_GOOD: f64 = 10.0;
const LOG10_STRONG: f64 = 14.0;

pub fn check(password: &str, username: &str, email: &str) -> PasswordCheck {
    let password: String = password.nfkc().collect();
    let len = password.chars().count();
    let refuse = |hint: &str| PasswordCheck { acceptable: false, strength: Strength::Weak, hint: hint.to_string() };
    if len < PASSWORD_MIN {
        return refuse(&format!("Use at least {PASSWORD_MIN} characters; a few unrelated words work well."));
    }
    if len > PASSWORD_MAX {
        return refuse(&format!("Use at most {PASSWORD_MAX} characters."));
    }
    let lower = password.to_lowercase();
    if is_common(&lower) {
        return refuse(
            "This is one of the most common passwords, so it is easy to guess; try a few unrelated words instead.",
        );
    }
    let username: String = username.trim().nfkc().collect::<String>().to_lowercase();
    let local = email.trim().rsplit_once('@').map(|(l, _)| l).unwrap_or("").to_lowercase();
    if [username.as_str(), local.as_str()].iter().any(|part| part.chars().count() >= 3 && lower.contains(part)) {
        return refuse("Don't build your password from your username or email; try a few unrelated words instead.");
    }
    let estimate = guess::estimate(&password);
    // Patterns and common passwords joined are refused until there are enough of them to be good:
    // an attacker tries a few such runs joined early.
    if estimate.only_patterns && estimate.log10_guesses < LOG10_GOOD {
        return refuse(
            "Repeated characters, sequences like abcd or 4321 and rows of keys like qwerty are easy to guess, \
             so try a few unrelated words instead.",
        );
    }
    if estimate.nothing_random && estimate.log10_guesses < LOG10_GOOD {
        return refuse(
            "Common passwords and patterns joined together are easy to guess, so add a word or two that have \
             nothing to do with each other.",
        );
    }
    if estimate.log10_guesses < LOG10_MIN_GUESSES {
        return refuse("This would be guessed quickly, so add a word or two that have nothing to do with each other.");
    }
    let (strength, hint) = match estimate.log10_guesses {
        g if g < LOG10_GOOD => {
            (Strength::Fair, "Fair: a longer password, like a short phrase, is much harder to guess.")
        }
        g if g < LOG10_STRONG => (Strength::Good, "Good."),
        _ => (Strength::Strong, "Strong."),
    };
    PasswordCheck { acceptable: true, strength, hint: hint.to_string() }
}

/// In the list itself, or a listed word dressed up with digits, symbols and look-alike letters
/// ("P@ssw0rd2024!").
fn is_common(lower: &str) -> bool {
    let listed = common_passwords::contains;
    let strip = |w: &str| w.trim_matches(|c: char| !c.is_alphabetic()).to_string();
    let core = strip(lower);
    let plain: String = core.chars().map(guess::unleet).collect();
    listed(lower) || [core, strip(&plain)].iter().any(|w| w.chars().count() >= 4 && listed(w))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(p: &str) -> bool {
        check(p, "someone", "someone@example.com").acceptable
    }

    #[test]
    fn common_passwords_are_refused_with_a_reason() {
        for p in ["password", "PASSWORD", "12345678", "qwertyuiop", "iloveyou", "sunshine1"] {
            let c = check(p, "someone", "someone@example.com");
            assert!(!c.acceptable, "{p}");
            assert!(c.hint.contains("most common"), "{p}: {}", c.hint);
        }
    }

    #[test]
    fn dressed_up_common_words_are_refused() {
        for p in ["P@ssw0rd2024!", "Password123", "!!monkey2024", "dr@g0n1234"] {
            assert!(!ok(p), "{p}");
        }
    }

    #[test]
    fn passphrases_and_random_passwords_pass() {
        for p in ["correct horse battery", "a long enough password", "vT9#qLm2!xR", "zebra-lantern-quilt"] {
            assert!(ok(p), "{p}: {:?}", check(p, "someone", "someone@example.com"));
        }
    }

    #[test]
    fn username_and_email_local_part_are_refused() {
        let c = check("xx-annabel-2024", "Annabel", "x@example.com");
        assert!(!c.acceptable && c.hint.contains("username"));
        assert!(!check("my.mail.box.99!", "zed", "My.Mail.Box@example.com").acceptable);
        // Short parts are not held against the password.
        assert!(check("zebra-lantern-quilt", "ze", "qu@example.com").acceptable);
    }

    #[test]
    fn repeats_sequences_and_keyboard_walks_are_refused_also_reversed_and_joined() {
        for p in [
            "aaaaaaaa",
            "abcdefgh",
            "hgfedcba",
            "87654321",
            "poiuytrewq",
            "zyxwvutsrq",
            "abcdefgh12345678",
            "asdfghqwerty",
            "aaaabbbbcccc",
            "abcabcabcabc",
            "qwertyuiopasdfghjkl",
        ] {
            let c = check(p, "someone", "someone@example.com");
            assert!(!c.acceptable && c.strength == Strength::Weak, "{p}: {c:?}");
            assert!(c.hint.contains("keys like qwerty"), "{p}: {}", c.hint);
        }
    }

    #[test]
    fn strength_follows_the_guesses_not_the_length() {
        // Two common passwords joined, or one with a walk, are refused however long they are; with a
        // character that has to be guessed between them they are fair; a short random password is
        // strong.
        for p in ["sunshinemonkey", "monkey7dragon", "5tgb6yhn7ujm"] {
            let c = check(p, "a", "b@c.de");
            assert!(!c.acceptable && c.hint.contains("joined together"), "{p}: {c:?}");
        }
        let fair = check("sunshine4u!", "a", "b@c.de");
        assert_eq!((fair.acceptable, fair.strength), (true, Strength::Fair), "{fair:?}");
        assert_eq!(check("vT9#qLm2!", "a", "b@c.de").strength, Strength::Strong);
        assert_eq!(check("zebra-lantern-quilt", "a", "b@c.de").strength, Strength::Strong);
        assert_eq!(check("purple monkey", "a", "b@c.de").strength, Strength::Good);
        // A block of random characters typed twice is still hard to guess.
        assert!(ok("vT9#qLm2vT9#qLm2"));
    }

    #[test]
    fn every_hint_is_one_sentence() {
        let examples = [
            "short",
            "password",
            "annabel-2024",
            "aaaaaaaaa",
            "sunshinemonkey",
            "sunshine4u!",
            "purple monkey",
            "vT9#qLm2!",
        ];
        for p in examples {
            let hint = check(p, "annabel", "x@example.com").hint;
            let sentences = hint.matches(['.', '!', '?']).count();
            assert!(sentences == 1 && hint.ends_with('.'), "{p}: {hint}");
        }
    }

    #[test]
    fn length_rules_hold_and_long_phrases_need_no_composition_rules() {
        assert!(!ok("short"));
        assert!(!ok(&"x".repeat(129)));
        // No composition rules: a long lower-case phrase is fine.
        assert!(ok("purple monkeys dance quietly"));
    }
}
