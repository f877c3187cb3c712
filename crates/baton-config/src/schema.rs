//! The JSON Schema of the pipeline file, for editors (the YAML language server) and
//! for `baton schema`. Tests keep it in step with the parser's known fields.

/// JSON Schema (draft 2020-12) of pipeline format version 1.
pub const PIPELINE_SCHEMA: &str = include_str!("../schema/pipeline-v1.schema.json");

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::resolve::{ANOMALY_FIELDS, BEAT_FIELDS, MOVEMENT_FIELDS, TOP_FIELDS};

    fn keys(v: &Value) -> Vec<String> {
        v["properties"]
            .as_object()
            .map(|o| o.keys().cloned().collect())
            .unwrap_or_default()
    }

    #[test]
    fn schema_knows_exactly_the_fields_the_parser_knows() {
        let schema: Value = serde_json::from_str(PIPELINE_SCHEMA).expect("schema is JSON");
        let mut top = keys(&schema);
        top.retain(|k| k != "stages");
        let mut expected: Vec<String> = TOP_FIELDS.iter().map(|s| s.to_string()).collect();
        top.sort();
        expected.sort();
        assert_eq!(top, expected);
        let mut beat = keys(&schema["$defs"]["beat"]);
        let mut expected: Vec<String> = BEAT_FIELDS.iter().map(|s| s.to_string()).collect();
        beat.sort();
        expected.sort();
        assert_eq!(beat, expected);
        let mut movement = keys(&schema["$defs"]["movement"]);
        movement.retain(|k| k != "steps");
        let mut expected: Vec<String> = MOVEMENT_FIELDS.iter().map(|s| s.to_string()).collect();
        movement.sort();
        expected.sort();
        assert_eq!(movement, expected);
        assert_eq!(keys(&schema["properties"]["anomalies"]), ANOMALY_FIELDS);
    }
}
