//! Dashboards (aws-api.md §2.8): PutDashboard / GetDashboard / ListDashboards
//! / DeleteDashboards inputs, body validation and outputs. Dashboards are
//! global (no region in their ARN).

use crate::alarm::ops::{Tag, validate_tags};
use crate::error::{ApiError, ApiResult, ErrorCode};
use crate::param::{Param, missing, required_str};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub const MAX_DASHBOARD_NAME_LEN: usize = 255;
/// AWS's limit on a dashboard body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// Widgets sit on a 24-column grid.
pub const GRID_COLUMNS: i64 = 24;
pub const MAX_WIDGETS: usize = 500;
/// Dashboards per ListDashboards page.
pub const LIST_PAGE_SIZE: usize = 1000;

pub fn dashboard_arn(account: &str, name: &str) -> String {
    format!("arn:aws:cloudwatch::{account}:dashboard/{name}")
}

/// The dashboard name in a dashboard ARN.
pub fn name_from_dashboard_arn(arn: &str) -> Option<&str> {
    let rest = arn.strip_prefix("arn:aws:cloudwatch:")?;
    let (_, after) = rest.split_once(":dashboard/")?;
    (!after.is_empty()).then_some(after)
}

/// `DashboardName`: 1..=255 of `[A-Za-z0-9_-]` (AWS-recorded message).
pub fn validate_name(name: Option<String>) -> ApiResult<String> {
    let name = required_str(name, Param::root("DashboardName"))?;
    let ok = name.len() <= MAX_DASHBOARD_NAME_LEN
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !ok {
        return Err(ApiError::invalid_value(
            "The value for field DashboardName contains invalid characters. It can only contain alphanumerics, dash (-) and underscore (_).\n",
        ));
    }
    Ok(name)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ValidationMessage {
    pub data_path: String,
    pub message: String,
}

fn body_error(problems: &[ValidationMessage]) -> ApiError {
    let detail: Vec<String> = problems
        .iter()
        .map(|p| format!("{}: {}", p.data_path, p.message))
        .collect();
    ApiError::new(
        ErrorCode::InvalidParameterInput,
        format!(
            "The field DashboardBody must be a valid dashboard: {}",
            detail.join("; ")
        ),
    )
}

/// Checks a dashboard body: a JSON object whose `widgets` is an array of
/// objects with a known `type`, an object `properties`, and integer
/// `x`/`y`/`width`/`height` on the 24-column grid.
pub fn validate_body(body: &str) -> ApiResult<()> {
    let msg = |path: &str, m: &str| ValidationMessage {
        data_path: path.to_string(),
        message: m.to_string(),
    };
    if body.len() > MAX_BODY_BYTES {
        return Err(body_error(&[msg(
            "/",
            "The dashboard body is larger than 1 MB.",
        )]));
    }
    let v: Value = serde_json::from_str(body)
        .map_err(|e| body_error(&[msg("/", &format!("Invalid JSON: {e}"))]))?;
    let Some(obj) = v.as_object() else {
        return Err(body_error(&[msg("/", "Should be an object.")]));
    };
    let widgets = match obj.get("widgets") {
        None => return Err(body_error(&[msg("/widgets", "Should be present.")])),
        Some(Value::Array(w)) => w,
        Some(_) => return Err(body_error(&[msg("/widgets", "Should be an array.")])),
    };
    if widgets.len() > MAX_WIDGETS {
        return Err(body_error(&[msg(
            "/widgets",
            "Too many widgets (at most 500).",
        )]));
    }
    let mut problems = Vec::new();
    for (i, w) in widgets.iter().enumerate() {
        let base = format!("/widgets/{i}");
        let Some(w) = w.as_object() else {
            problems.push(msg(&base, "Should be an object."));
            continue;
        };
        match w.get("type").and_then(Value::as_str) {
            Some("metric" | "text" | "log" | "alarm" | "explorer" | "custom") => {}
            Some(other) => problems.push(msg(
                &format!("{base}/type"),
                &format!(
                    "Unknown widget type {other}; use metric, text, log, alarm, explorer or custom."
                ),
            )),
            None => problems.push(msg(
                &format!("{base}/type"),
                "Should be present and a string.",
            )),
        }
        if !w.get("properties").is_some_and(Value::is_object) {
            problems.push(msg(
                &format!("{base}/properties"),
                "Should be present and an object.",
            ));
        }
        for (field, lo, hi) in [
            ("x", 0, GRID_COLUMNS - 1),
            ("y", 0, i64::MAX),
            ("width", 1, GRID_COLUMNS),
            ("height", 1, 1000),
        ] {
            match w.get(field) {
                None => {}
                Some(n) => match n.as_i64() {
                    Some(n) if (lo..=hi).contains(&n) => {}
                    _ => problems.push(msg(
                        &format!("{base}/{field}"),
                        &format!("Should be an integer between {lo} and {hi}."),
                    )),
                },
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(body_error(&problems))
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct PutDashboardInput {
    pub dashboard_name: Option<String>,
    pub dashboard_body: Option<String>,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ValidDashboard {
    pub name: String,
    pub body: String,
    pub tags: Vec<(String, String)>,
}

impl PutDashboardInput {
    pub fn validate(self) -> ApiResult<ValidDashboard> {
        let name = validate_name(self.dashboard_name)?;
        let body = self
            .dashboard_body
            .filter(|b| !b.is_empty())
            .ok_or_else(|| missing(Param::root("DashboardBody")))?;
        validate_body(&body)?;
        let tags = validate_tags(self.tags, Param::root("Tags"))?;
        Ok(ValidDashboard { name, body, tags })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct PutDashboardOutput {
    pub dashboard_validation_messages: Vec<ValidationMessage>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct GetDashboardInput {
    pub dashboard_name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct GetDashboardOutput {
    pub dashboard_arn: String,
    pub dashboard_body: String,
    pub dashboard_name: String,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ListDashboardsInput {
    pub dashboard_name_prefix: Option<String>,
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct DashboardEntry {
    pub dashboard_name: String,
    pub dashboard_arn: String,
    pub last_modified: Timestamp,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "PascalCase")]
pub struct ListDashboardsOutput {
    pub dashboard_entries: Vec<DashboardEntry>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_token: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct DeleteDashboardsInput {
    pub dashboard_names: Option<Vec<String>>,
}

/// A stored dashboard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DashboardRecord {
    pub name: String,
    pub body: String,
    pub last_modified_ms: i64,
}

/// `ResourceNotFound` (404) for dashboards that do not exist.
pub fn not_found(names: &[&str]) -> ApiError {
    ApiError::new(
        ErrorCode::ResourceNotFound,
        format!(
            "The specified dashboard does not exist. [{}]",
            names.join(", ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            validate_name(Some("ok-Name_1".into())).unwrap(),
            "ok-Name_1"
        );
        let e = validate_name(Some("bad name".into())).unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidParameterValue);
        assert!(e.message.ends_with("dash (-) and underscore (_).\n"));
        assert_eq!(
            validate_name(None).unwrap_err().code,
            ErrorCode::MissingParameter
        );
        let arn = dashboard_arn("123456789012", "d-1");
        assert_eq!(arn, "arn:aws:cloudwatch::123456789012:dashboard/d-1");
        assert_eq!(name_from_dashboard_arn(&arn), Some("d-1"));
        assert_eq!(
            name_from_dashboard_arn("arn:aws:cloudwatch:us-east-1:1:alarm:a"),
            None
        );
    }

    #[test]
    fn bodies() {
        let good = r#"{"widgets":[{"type":"metric","x":0,"y":0,"width":12,"height":6,"properties":{"metrics":[["CWAgent","disk_used_percent"]],"period":300}},{"type":"text","properties":{"markdown":"hi"}}]}"#;
        assert!(validate_body(good).is_ok());
        assert!(validate_body(r#"{"widgets":[]}"#).is_ok());
        for bad in [
            "not json",
            "[]",
            "{}",
            r#"{"widgets":{}}"#,
            r#"{"widgets":[1]}"#,
            r#"{"widgets":[{"type":"pie","properties":{}}]}"#,
            r#"{"widgets":[{"type":"metric"}]}"#,
            r#"{"widgets":[{"type":"metric","properties":{},"width":25}]}"#,
            r#"{"widgets":[{"type":"metric","properties":{},"x":-1}]}"#,
        ] {
            let e = validate_body(bad).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameterInput, "{bad}");
        }
        let e = validate_body(r#"{"widgets":[{"type":"metric","properties":{},"height":0}]}"#)
            .unwrap_err();
        assert!(e.message.contains("/widgets/0/height"), "{}", e.message);
    }
}
