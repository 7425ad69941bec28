//! Access-key policies: an IAM-like allow-list of actions with resource
//! patterns. Deny by default; a request is allowed when one statement matches
//! both its action (`cloudwatch:PutMetricData`) and its resource ARN.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Statement {
    /// Patterns like `cloudwatch:PutMetricData`, `cloudwatch:Get*`, `*`.
    pub actions: Vec<String>,
    /// ARN patterns; `*` matches everything.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub name: String,
    pub statements: Vec<Statement>,
}

/// The names of the built-in policies, in the order `stratus keys` lists them.
pub const BUILTIN_POLICIES: &[&str] = &["admin", "agent", "readonly"];

impl Policy {
    /// Built-in policies: `admin` (everything), `agent` (publish metrics and
    /// log events, like AWS's CloudWatchAgentServerPolicy — nothing that
    /// reads), `readonly` (reads only).
    pub fn builtin(name: &str) -> Option<Policy> {
        let statements = match name {
            "admin" => vec![Statement {
                actions: vec!["*".into()],
                resources: vec!["*".into()],
            }],
            "agent" => vec![Statement {
                actions: vec![
                    "cloudwatch:PutMetricData".into(),
                    "logs:PutLogEvents".into(),
                    "logs:CreateLogGroup".into(),
                    "logs:CreateLogStream".into(),
                    "logs:DescribeLogStreams".into(),
                    "logs:PutRetentionPolicy".into(),
                ],
                resources: vec!["*".into()],
            }],
            "readonly" => vec![Statement {
                actions: vec![
                    "cloudwatch:Get*".into(),
                    "cloudwatch:List*".into(),
                    "cloudwatch:Describe*".into(),
                    "sns:Get*".into(),
                    "sns:List*".into(),
                    // A read, as in AWS's AmazonSNSReadOnlyAccess.
                    "sns:CheckIfPhoneNumberIsOptedOut".into(),
                    "logs:Describe*".into(),
                    "logs:Get*".into(),
                    "logs:List*".into(),
                    "logs:FilterLogEvents".into(),
                    "logs:StartQuery".into(),
                    "logs:StopQuery".into(),
                    "logs:TestMetricFilter".into(),
                ],
                resources: vec!["*".into()],
            }],
            _ => return None,
        };
        Some(Policy {
            name: name.to_string(),
            statements,
        })
    }

    pub fn allows(&self, action: &str, resource: &str) -> bool {
        self.statements.iter().any(|s| {
            s.actions.iter().any(|p| glob_match(p, action))
                && s.resources.iter().any(|p| glob_match(p, resource))
        })
    }
}

pub use stratus_model::glob::glob_match;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globbing() {
        assert!(glob_match("*", "anything"));
        assert!(glob_match("cloudwatch:Get*", "cloudwatch:GetMetricData"));
        assert!(!glob_match("cloudwatch:Get*", "cloudwatch:ListMetrics"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("a?c", "ac"));
        assert!(glob_match(
            "arn:*:alarm:web-*",
            "arn:aws:cloudwatch:us-east-1:1:alarm:web-1"
        ));
        assert!(!glob_match("abc", "abcd"));
    }

    #[test]
    fn builtin_agent_only_publishes() {
        let p = Policy::builtin("agent").unwrap();
        assert!(p.allows("cloudwatch:PutMetricData", "*"));
        assert!(!p.allows("cloudwatch:ListMetrics", "*"));
        assert!(!p.allows("sns:Publish", "*"));
        assert!(p.allows("logs:PutLogEvents", "*"));
        assert!(p.allows("logs:CreateLogStream", "*"));
        assert!(!p.allows("logs:GetLogEvents", "*"));
        assert!(!p.allows("logs:FilterLogEvents", "*"));
        assert!(!p.allows("logs:DeleteLogGroup", "*"));
        let a = Policy::builtin("admin").unwrap();
        assert!(a.allows("sns:Publish", "arn:aws:sns:us-east-1:1:t"));
        let r = Policy::builtin("readonly").unwrap();
        assert!(r.allows("cloudwatch:GetMetricData", "*"));
        assert!(!r.allows("cloudwatch:PutMetricData", "*"));
        assert!(r.allows("sns:GetSMSAttributes", "*"));
        assert!(r.allows("sns:CheckIfPhoneNumberIsOptedOut", "*"));
        assert!(!r.allows("sns:SetSMSAttributes", "*"));
        assert!(!r.allows("sns:OptInPhoneNumber", "*"));
        assert!(Policy::builtin("nope").is_none());
    }
}
