//! One argon2id verify of a wrong password per line read from stdin, against the PHC hash given
//! as the only argument; each answer is the time the verify took, in microseconds, measured here
//! (so the pipe to the bench is not counted).

use std::io::{BufRead, Write};
use std::time::Instant;

use argon2::password_hash::{PasswordHash, PasswordVerifier};
use argon2::Argon2;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let phc = std::env::args().nth(1).ok_or("usage: argon2-bare PHC-HASH")?;
    let parsed = PasswordHash::new(&phc).map_err(|e| e.to_string())?;
    let mut out = std::io::stdout().lock();
    for line in std::io::stdin().lock().lines() {
        line?;
        let start = Instant::now();
        // As Latchkey verifies: the parameters come from the hash.
        let matched = Argon2::default().verify_password(b"not the password", &parsed).is_ok();
        let micros = start.elapsed().as_micros();
        if matched {
            return Err("the wrong password matched".into());
        }
        writeln!(out, "{micros}")?;
        out.flush()?;
    }
    Ok(())
}
