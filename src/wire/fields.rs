//! Field readers shared by the request types: numbers as JSON Schema's `integer` has them,
//! `null` versus absent, and the room's `metadata` object.

use serde::{Deserialize, Deserializer};

/// Deserialises a field that may be absent (`None`), `null` (`Some(None)`) or a value.
pub(super) fn double_option<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A room's `metadata`: a JSON object or `null` (rooms show it as an object, so an array, a
/// string, a number or a boolean is refused rather than stored).
pub(super) fn metadata_object<'de, D: Deserializer<'de>>(d: D) -> Result<Option<serde_json::Map<String, serde_json::Value>>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None => Ok(None),
        Some(serde_json::Value::Object(m)) => Ok(Some(m)),
        Some(other) => {
            let kind = match other {
                serde_json::Value::Array(_) => "an array",
                serde_json::Value::String(_) => "a string",
                serde_json::Value::Number(_) => "a number",
                _ => "a boolean",
            };
            Err(serde::de::Error::custom(format!("metadata must be a JSON object or null, not {kind}")))
        }
    }
}

/// [`metadata_object`] for `PATCH`, where `null` (clear) differs from absent (keep).
pub(super) fn metadata_patch<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<serde_json::Map<String, serde_json::Value>>>, D::Error> {
    metadata_object(d).map(Some)
}

/// A whole number as JSON Schema's `integer` has it: `7` or `7.0`.
pub(super) fn whole<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    let n = serde_json::Number::deserialize(d)?;
    let v = match n.as_u64() {
        Some(u) => u32::try_from(u).ok(),
        None => n.as_f64().filter(|f| f.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(f)).map(|f| f as u32),
    };
    v.ok_or_else(|| serde::de::Error::custom(format!("expected a whole number from 0 to {}, got {n}", u32::MAX)))
}

/// [`whole`], or absent / `null`.
pub(super) fn opt_whole<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    #[derive(Deserialize)]
    struct W(#[serde(deserialize_with = "whole")] u32);
    Option::<W>::deserialize(d).map(|o| o.map(|w| w.0))
}

/// A field that may be absent but, when present, must not be `null`.
pub(super) fn not_null<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}
