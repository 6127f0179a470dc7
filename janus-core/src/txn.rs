//! Transaction names: a prefix of the client's own, then a number.
//!
//! Over a broker (RabbitMQ, MQTT) every client may receive every answer Janus sends, and
//! Janus' MQTT transport even keys its MQTT 5 response routing by the transaction alone. Plain
//! counters ("1", "2", ...) would then be the same in every client, and one client would take
//! another's answers as its own. Each client therefore names its transactions
//! `<prefix>-<number>`, with a prefix drawn at random when the client is made; an answer
//! whose transaction does not carry this client's prefix is not this client's.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

/// How one client names its transactions, and reads them back.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct TxnNames {
    /// Ends with `-`; empty in unit tests, where numbers alone are easier to read.
    prefix: Arc<str>,
}

impl TxnNames {
    /// A prefix no other client is likely to have: 64 bits from the standard library's
    /// randomly seeded hasher (seeded from the operating system once per thread), mixed with
    /// the process id and the time, written as 16 hex digits.
    pub(crate) fn random() -> Self {
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u32(std::process::id());
        if let Ok(since) = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH) {
            h.write_u128(since.as_nanos());
        }
        TxnNames {
            prefix: format!("{:016x}-", h.finish()).into(),
        }
    }

    /// The transaction of request number `id`.
    pub(crate) fn name(&self, id: u64) -> String {
        use std::fmt::Write;
        let mut s = String::with_capacity(self.prefix.len() + 20);
        s.push_str(&self.prefix);
        // Writing into a String cannot fail.
        let _ = write!(s, "{id}");
        s
    }

    /// The request number in `transaction`, when it is one of this client's.
    pub(crate) fn id(&self, transaction: &str) -> Option<u64> {
        transaction.strip_prefix(&*self.prefix)?.parse().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back_and_foreign_ones_do_not() {
        let a = TxnNames::random();
        let b = TxnNames::random();
        assert_ne!(a, b, "two clients get two prefixes");
        for id in [0, 1, 9, 10, 4096, u64::MAX] {
            let name = a.name(id);
            assert_eq!(a.id(&name), Some(id), "{name}");
            assert_eq!(b.id(&name), None, "{name} is not b's");
        }
        assert_eq!(a.id("17"), None, "a bare number is not a's");
        assert_eq!(a.id(&format!("{}x", a.name(1))), None);
    }

    #[test]
    fn without_a_prefix_names_are_numbers() {
        let plain = TxnNames::default();
        assert_eq!(plain.name(42), "42");
        assert_eq!(plain.id("42"), Some(42));
        assert_eq!(plain.id("x42"), None);
    }

    #[test]
    fn prefixes_look_like_hex_and_a_dash() {
        let name = TxnNames::random().name(7);
        let (prefix, number) = name.split_once('-').expect("a dash");
        assert_eq!(prefix.len(), 16);
        assert!(prefix.chars().all(|c| c.is_ascii_hexdigit()), "{name}");
        assert_eq!(number, "7");
    }
}
