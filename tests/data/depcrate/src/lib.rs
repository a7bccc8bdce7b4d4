//! A small crate with registry dependencies, for the dependency tests.

/// The count as JSON: `{"count":"<n>"}`.
pub fn render(count: u64) -> String {
    let mut buffer = itoa::Buffer::new();
    serde_json::json!({ "count": buffer.format(count) }).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_count() {
        assert_eq!(render(42), r#"{"count":"42"}"#);
    }

    #[test]
    fn renders_zero() {
        assert_eq!(render(0), r#"{"count":"0"}"#);
    }
}
