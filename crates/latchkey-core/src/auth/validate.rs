//! Input rules. Each function returns the normalised value and its uniqueness key, or
//! `invalid_input` naming the field.

use std::str::FromStr;

use unicode_normalization::UnicodeNormalization;
use unicode_security::MixedScript;

use crate::error::{Error, Result};

pub use crate::limits::{EMAIL_MAX, PASSWORD_MAX, PASSWORD_MIN, USERNAME_MAX, USERNAME_MIN};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    /// What signing in and the name's own uniqueness go by: NFKC, lower case.
    pub key: String,
    /// What look-alike names share (UTS #39), so "paypal" in Cyrillic letters cannot sit beside it.
    pub skeleton: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email {
    pub display: String,
    pub key: String,
}

pub fn username(raw: &str) -> Result<Username> {
    let display: String = raw.trim().nfkc().collect();
    let len = display.chars().count();
    if !(USERNAME_MIN..=USERNAME_MAX).contains(&len) {
        return Err(Error::invalid(
            "username",
            format!("Username must be {USERNAME_MIN} to {USERNAME_MAX} characters long."),
        ));
    }
    if !display.chars().all(|c| c.is_alphanumeric() || "@.+-_".contains(c)) {
        return Err(Error::invalid(
            "username",
            "Username may contain only letters, digits and the characters @ . + - _",
        ));
    }
    // UTS #39: a Cyrillic "а" among Latin letters is how a look-alike of someone's name is made.
    if !display.as_str().is_single_script() {
        return Err(Error::invalid(
            "username",
            "Username must use the letters of one alphabet, not a mix such as Latin and Cyrillic.",
        ));
    }
    let key = username_key(&display);
    let skeleton = username_skeleton(&display);
    Ok(Username { display, key, skeleton })
}

/// The key a typed name is looked up by, without judging the name (it may predate a rule).
pub fn username_key(raw: &str) -> String {
    raw.trim().nfkc().collect::<String>().to_lowercase()
}

/// The UTS #39 skeleton of the name's key: names that look alike have the same one.
pub fn username_skeleton(name: &str) -> String {
    super::skeleton::skeleton(&username_key(name))
}

pub fn email(raw: &str) -> Result<Email> {
    let display: String = raw.trim().nfc().collect();
    let invalid = || Error::invalid("email", "Enter a valid email address, like name@example.com.");
    if display.is_empty() || display.len() > EMAIL_MAX {
        return Err(invalid());
    }
    // The parser that sends the mail has the last word, so an address accepted here is one mail can
    // go to; the rules below narrow it to ordinary addresses (no quoted names, IP literals or
    // single-label domains).
    if lettre::Address::from_str(&display).is_err() {
        return Err(invalid());
    }
    let (local, domain) = display.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local.chars().all(|c| c.is_alphanumeric() || "!#$%&'*+/=?^_`{|}~.-".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.chars().count() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_alphanumeric() || c == '-')
        })
        && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
    if !local_ok || !domain_ok {
        return Err(invalid());
    }
    let key = display.to_lowercase();
    Ok(Email { display, key })
}

/// NFKC-normalised password, if the password policy accepts it; never trimmed.
pub fn password(raw: &str, username: &str, email: &str) -> Result<String> {
    let verdict = super::policy::check(raw, username, email);
    if !verdict.acceptable {
        return Err(Error::invalid("password", verdict.hint));
    }
    Ok(raw.nfkc().collect())
}

/// Accepts pasted codes with spaces or dashes ("123 456", "123-456").
pub fn code(raw: &str) -> Result<String> {
    let digits: String = raw.chars().filter(|c| !c.is_whitespace() && *c != '-').collect();
    if digits.len() != 6 || !digits.chars().all(|c| c.is_ascii_digit()) {
        return Err(Error::invalid("code", "Enter the 6-digit code from the email."));
    }
    Ok(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(e: Error) -> &'static str {
        match e {
            Error::InvalidInput { field, .. } => field,
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn usernames_follow_the_character_and_length_rules() {
        let alice = username("  Alice_1 ").unwrap();
        assert_eq!((alice.display.as_str(), alice.key.as_str()), ("Alice_1", "alice_1"));
        assert!(username("a.b+c-d@e_f").is_ok());
        assert!(username("Zoë").is_ok());
        assert_eq!(field(username("ab").unwrap_err()), "username");
        assert!(username(&"a".repeat(150)).is_ok());
        assert!(username(&"a".repeat(151)).is_err());
        assert!(username("bad name").is_err());
        assert!(username("semi;colon").is_err());
        assert!(username("nul\0byte").is_err());
    }

    #[test]
    fn usernames_are_nfkc_normalised_before_checking() {
        // Fullwidth letters fold to ASCII under NFKC, so they collide with the plain name.
        assert_eq!(username("ＡＢＣ").unwrap().key, username("abc").unwrap().key);
    }

    #[test]
    fn emails_are_checked_and_keyed_in_lower_case() {
        let e = email(" Bob@Example.COM ").unwrap();
        assert_eq!((e.display.as_str(), e.key.as_str()), ("Bob@Example.COM", "bob@example.com"));
        for bad in ["", "plain", "a@b", "@x.io", "a@.io", "a..b@x.io", "a b@x.io", "a@x-.io", "a@x.123", "<a>@x.io"] {
            assert_eq!(field(email(bad).unwrap_err()), "email", "{bad}");
        }
        assert!(email(&format!("{}@x.io", "a".repeat(65))).is_err());
    }

    #[test]
    fn an_address_accepted_here_is_one_mail_can_go_to() {
        // 63 letters is a valid label length, but as punycode ("xn--…") it is too long for DNS, so
        // lettre refuses it: before, sign-up accepted it and then failed with mail_failed.
        let too_long = format!("a@{}.io", "ü".repeat(63));
        assert_eq!(field(email(&too_long).unwrap_err()), "email");
        for good in ["ann@example.com", "a.b+tag@sub.example.co.uk", "jörg@bücher.example", "o'neil@x.io"] {
            let e = email(good).unwrap();
            assert!(lettre::Address::from_str(&e.display).is_ok(), "{good}");
        }
    }

    #[test]
    fn emails_are_nfc_normalised_and_keyed_in_lower_case() {
        // "o" followed by a combining diaeresis is the same address as the precomposed "ö".
        let decomposed = email("Jo\u{308}rg@Example.com").unwrap();
        assert_eq!(decomposed.display, "J\u{f6}rg@Example.com");
        assert_eq!(decomposed.key, email("j\u{f6}rg@example.com").unwrap().key);
    }

    #[test]
    fn usernames_mixing_scripts_are_refused() {
        // A Cyrillic "а" (U+0430) in a Latin name, and a Greek omicron.
        for name in ["\u{430}dmin", "p\u{430}ypal", "r\u{3bf}ot"] {
            let e = username(name).unwrap_err();
            assert_eq!(field(e), "username", "{name}");
        }
        for name in
            ["admin", "Zo\u{eb}", "\u{430}\u{441}\u{435}", "\u{5c71}\u{7530}\u{305f}\u{308d}\u{3046}", "ann_1.b@c"]
        {
            assert!(username(name).is_ok(), "{name}");
        }
    }

    #[test]
    fn look_alike_usernames_share_a_skeleton_and_keep_their_own_key() {
        // All-Cyrillic "асе" is one script, so it passes, but it looks like Latin "ace".
        let (latin, cyrillic) = (username("ace").unwrap(), username("\u{430}\u{441}\u{435}").unwrap());
        assert_ne!(latin.key, cyrillic.key);
        assert_eq!(latin.skeleton, cyrillic.skeleton);
        assert_eq!(username("ACE").unwrap().skeleton, latin.skeleton);
        assert_ne!(username("ice").unwrap().skeleton, latin.skeleton);
        // The skeleton is computed the same way for a stored name as for a typed one.
        assert_eq!(username_skeleton("\u{430}\u{441}\u{435}"), latin.skeleton);
    }

    #[test]
    fn passwords_follow_the_policy_and_are_normalised_not_trimmed() {
        let pw = |p: &str| password(p, "someone", "someone@example.com");
        assert!(pw("short7!").is_err());
        assert!(pw("vT9#qLm2").is_ok());
        assert_eq!(pw(&"vT9#qLm2!xR4pq".repeat(9)).unwrap().len(), 126);
        assert_eq!(field(pw(&"x".repeat(129)).unwrap_err()), "password");
        assert_eq!(pw("  zebra  quilt  ").unwrap(), "  zebra  quilt  ");
        // NFKC: the ligature "ﬁ" becomes "fi".
        assert_eq!(pw("ﬁxed zebra lantern").unwrap(), "fixed zebra lantern");
    }

    #[test]
    fn codes_accept_pasted_separators() {
        assert_eq!(code("123 456").unwrap(), "123456");
        assert_eq!(code("123-456").unwrap(), "123456");
        assert!(code("12345").is_err());
        assert!(code("12345a").is_err());
        assert!(code("١٢٣٤٥٦").is_err());
    }
}
