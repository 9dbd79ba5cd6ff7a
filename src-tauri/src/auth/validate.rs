//! Input rules. Each function returns the normalised value and its uniqueness key, or
//! `invalid_input` naming the field.

use unicode_normalization::UnicodeNormalization;

use crate::error::{Error, Result};

pub const USERNAME_MIN: usize = 3;
pub const USERNAME_MAX: usize = 150;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 128;
const EMAIL_MAX: usize = 254;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username {
    pub display: String,
    pub key: String,
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
    let key = display.to_lowercase();
    Ok(Username { display, key })
}

pub fn email(raw: &str) -> Result<Email> {
    let display = raw.trim().to_string();
    let invalid = || Error::invalid("email", "Enter a valid email address, like name@example.com.");
    if display.is_empty() || display.len() > EMAIL_MAX {
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
        assert_eq!(username("  Alice_1 ").unwrap(), Username { display: "Alice_1".into(), key: "alice_1".into() });
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
