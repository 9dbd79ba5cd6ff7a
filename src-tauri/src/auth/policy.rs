//! The password policy (NIST SP 800-63B): length limits, no composition rules, no common or
//! breached-style passwords, nothing built from the username or the email. The sign-up screen's
//! live hint calls `check` too, so no rule lives in two places.

use serde::Serialize;
use unicode_normalization::UnicodeNormalization;

use super::common_passwords;
use super::validate::{PASSWORD_MAX, PASSWORD_MIN};

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

pub fn check(password: &str, username: &str, email: &str) -> PasswordCheck {
    let password: String = password.nfkc().collect();
    let len = password.chars().count();
    let refuse = |hint: String| PasswordCheck { acceptable: false, strength: Strength::Weak, hint };
    if len < PASSWORD_MIN {
        return refuse(format!("Use at least {PASSWORD_MIN} characters. A few unrelated words work well."));
    }
    if len > PASSWORD_MAX {
        return refuse(format!("Use at most {PASSWORD_MAX} characters."));
    }
    let lower = password.to_lowercase();
    if is_common(&lower) {
        return refuse(
            "This is one of the most common passwords, so it is easy to guess. Try a few unrelated words instead."
                .to_string(),
        );
    }
    let username: String = username.trim().nfkc().collect::<String>().to_lowercase();
    let local = email.trim().rsplit_once('@').map(|(l, _)| l).unwrap_or("").to_lowercase();
    if [username.as_str(), local.as_str()].iter().any(|part| part.chars().count() >= 3 && lower.contains(part)) {
        return refuse(
            "Don't build your password from your username or email. Try a few unrelated words instead.".into(),
        );
    }
    let (strength, hint) = match len {
        ..=11 => (Strength::Fair, "Fair. A longer password, like a short phrase, is much harder to guess."),
        12..=15 => (Strength::Good, "Good."),
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
    let plain: String = core
        .chars()
        .map(|c| match c {
            '@' | '4' => 'a',
            '0' => 'o',
            '1' | '!' => 'i',
            '3' => 'e',
            '$' | '5' => 's',
            '7' => 't',
            c => c,
        })
        .collect();
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
    fn length_rules_and_strength_grow_with_length() {
        assert!(!ok("short"));
        assert!(!ok(&"x".repeat(129)));
        assert_eq!(check("vT9#qLm2!", "a", "b@c.de").strength, Strength::Fair);
        assert_eq!(check("vT9#qLm2!xR4pq", "a", "b@c.de").strength, Strength::Good);
        assert_eq!(check("zebra-lantern-quilt", "a", "b@c.de").strength, Strength::Strong);
        // No composition rules: a long lower-case phrase is fine.
        assert!(ok("purple monkeys dance quietly"));
    }
}
