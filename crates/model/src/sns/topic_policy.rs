//! Topic access policies (the `Policy` attribute): the document AWS writes
//! (default policy, AddPermission / RemovePermission statements, in AWS's
//! key order), its validation, and its evaluation for one request.
//!
//! Evaluation (the server combines it with the caller's key policy): an
//! explicit `Deny` statement matching the request refuses it whatever else
//! allows it; an `Allow` statement matching it allows it; otherwise the
//! topic policy says nothing and the key policy decides. A statement
//! matches when its principal, action, resource and every condition do.

use super::invalid;
use crate::error::ApiResult;
use crate::glob::glob_match;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The SNS action names a policy statement (and AddPermission) may name.
pub const SNS_ACTIONS: &[&str] = &[
    "AddPermission",
    "CheckIfPhoneNumberIsOptedOut",
    "ConfirmSubscription",
    "CreatePlatformApplication",
    "CreatePlatformEndpoint",
    "CreateSMSSandboxPhoneNumber",
    "CreateTopic",
    "DeleteEndpoint",
    "DeletePlatformApplication",
    "DeleteSMSSandboxPhoneNumber",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetEndpointAttributes",
    "GetPlatformApplicationAttributes",
    "GetSMSAttributes",
    "GetSMSSandboxAccountStatus",
    "GetSubscriptionAttributes",
    "GetTopicAttributes",
    "ListEndpointsByPlatformApplication",
    "ListOriginationNumbers",
    "ListPhoneNumbersOptedOut",
    "ListPlatformApplications",
    "ListSMSSandboxPhoneNumbers",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "ListTopics",
    "OptInPhoneNumber",
    "Publish",
    "PutDataProtectionPolicy",
    "RemovePermission",
    "SetEndpointAttributes",
    "SetPlatformApplicationAttributes",
    "SetSMSAttributes",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "TagResource",
    "Unsubscribe",
    "UntagResource",
    "VerifySMSSandboxPhoneNumber",
];

/// The actions of the default policy's statement, in AWS's order.
const DEFAULT_ACTIONS: [&str; 8] = [
    "SNS:GetTopicAttributes",
    "SNS:SetTopicAttributes",
    "SNS:AddPermission",
    "SNS:RemovePermission",
    "SNS:DeleteTopic",
    "SNS:Subscribe",
    "SNS:ListSubscriptionsByTopic",
    "SNS:Publish",
];

/// A policy document as stored; fields serialise in AWS's order.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    #[serde(rename = "Version", skip_serializing_if = "Option::is_none")]
    version: Option<Value>,
    #[serde(rename = "Id", skip_serializing_if = "Option::is_none")]
    id: Option<Value>,
    #[serde(rename = "Statement")]
    statement: Statements,
}

/// IAM's grammar allows one statement object in place of the list.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(untagged)]
enum Statements {
    Many(Vec<StatementDoc>),
    One(Box<StatementDoc>),
}

impl Statements {
    fn into_vec(self) -> Vec<StatementDoc> {
        match self {
            Statements::Many(v) => v,
            Statements::One(s) => vec![*s],
        }
    }
    fn as_slice(&self) -> &[StatementDoc] {
        match self {
            Statements::Many(v) => v,
            Statements::One(s) => std::slice::from_ref(s.as_ref()),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StatementDoc {
    #[serde(rename = "Sid", skip_serializing_if = "Option::is_none")]
    sid: Option<String>,
    #[serde(rename = "Effect")]
    effect: String,
    #[serde(rename = "Principal", skip_serializing_if = "Option::is_none")]
    principal: Option<Value>,
    #[serde(rename = "NotPrincipal", skip_serializing_if = "Option::is_none")]
    not_principal: Option<Value>,
    #[serde(rename = "Action", skip_serializing_if = "Option::is_none")]
    action: Option<Value>,
    #[serde(rename = "NotAction", skip_serializing_if = "Option::is_none")]
    not_action: Option<Value>,
    #[serde(rename = "Resource", skip_serializing_if = "Option::is_none")]
    resource: Option<Value>,
    #[serde(rename = "NotResource", skip_serializing_if = "Option::is_none")]
    not_resource: Option<Value>,
    #[serde(rename = "Condition", skip_serializing_if = "Option::is_none")]
    condition: Option<Value>,
}

/// The policy every topic has until its `Policy` is set (AWS's, verbatim).
pub fn default_policy(topic_arn: &str, account: &str) -> String {
    let doc = Document {
        version: Some("2008-10-17".into()),
        id: Some("__default_policy_ID".into()),
        statement: Statements::Many(vec![StatementDoc {
            sid: Some("__default_statement_ID".into()),
            effect: "Allow".into(),
            principal: Some(serde_json::json!({"AWS": "*"})),
            not_principal: None,
            action: Some(DEFAULT_ACTIONS.iter().map(|a| Value::from(*a)).collect()),
            not_action: None,
            resource: Some(topic_arn.into()),
            not_resource: None,
            condition: Some(serde_json::json!({"StringEquals": {"AWS:SourceOwner": account}})),
        }]),
    };
    to_json(&doc)
}

fn to_json(doc: &Document) -> String {
    serde_json::to_string(doc).unwrap_or_default()
}

fn policy_error(reason: impl std::fmt::Display) -> crate::ApiError {
    invalid(format_args!("Policy Error: {reason}"))
}

fn out_of_scope() -> crate::ApiError {
    invalid("Policy statement action out of service scope!")
}

fn parse_document(text: &str) -> ApiResult<Document> {
    serde_json::from_str::<Document>(text).map_err(policy_error)
}

/// Validates a `Policy` attribute value: it must parse, and everything in
/// it must be something [`TopicPolicy::evaluate`] understands (an empty
/// value resets the topic to the default policy).
pub fn validate(text: &str) -> ApiResult<()> {
    if text.is_empty() {
        return Ok(());
    }
    TopicPolicy::parse(text).map(|_| ())
}

/// AddPermission: `text` (the topic's policy) with a statement `label`
/// allowing `actions` (SNS action names) to `accounts` (account ids) on
/// `topic_arn`, written as AWS writes it.
pub fn add_permission(
    text: &str,
    topic_arn: &str,
    label: &str,
    accounts: &[String],
    actions: &[String],
) -> ApiResult<String> {
    let mut actions_out = Vec::with_capacity(actions.len());
    for a in actions {
        let name = SNS_ACTIONS
            .iter()
            .find(|n| n.eq_ignore_ascii_case(a))
            .ok_or_else(out_of_scope)?;
        actions_out.push(Value::from(format!("SNS:{name}")));
    }
    let mut principals = Vec::with_capacity(accounts.len());
    for a in accounts {
        let arn = if a.starts_with("arn:") {
            a.clone()
        } else if a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit()) {
            format!("arn:aws:iam::{a}:root")
        } else {
            return Err(invalid("AWSAccountId"));
        };
        principals.push(Value::from(arn));
    }
    let mut doc = parse_document(text)?;
    let mut statements = doc.statement.into_vec();
    if statements.iter().any(|s| s.sid.as_deref() == Some(label)) {
        return Err(invalid("Statement already exists"));
    }
    // One account or action is written as a string, several as a list.
    let one_or_list = |mut v: Vec<Value>| {
        if v.len() == 1 {
            v.remove(0)
        } else {
            Value::Array(v)
        }
    };
    statements.push(StatementDoc {
        sid: Some(label.to_string()),
        effect: "Allow".into(),
        principal: Some(serde_json::json!({"AWS": one_or_list(principals)})),
        not_principal: None,
        action: Some(one_or_list(actions_out)),
        not_action: None,
        resource: Some(topic_arn.into()),
        not_resource: None,
        condition: None,
    });
    doc.statement = Statements::Many(statements);
    Ok(to_json(&doc))
}

/// RemovePermission: `text` without the statements labelled `label`
/// (removing a label that is not there succeeds, as on AWS).
pub fn remove_permission(text: &str, label: &str) -> ApiResult<String> {
    let mut doc = parse_document(text)?;
    let mut statements = doc.statement.into_vec();
    statements.retain(|s| s.sid.as_deref() != Some(label));
    doc.statement = Statements::Many(statements);
    Ok(to_json(&doc))
}

/// One request as a topic policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct AccessRequest<'a> {
    /// `arn:aws:iam::<account>:user/<key name>`.
    pub principal_arn: &'a str,
    pub account: &'a str,
    /// The SNS action name (`Publish`).
    pub action: &'a str,
    pub resource: &'a str,
    /// `aws:SourceArn` / `aws:SourceAccount` (and `AWS:SourceOwner`): set
    /// only when a service acts on a resource's behalf; a key's own
    /// request carries none.
    pub source_arn: Option<&'a str>,
    pub source_account: Option<&'a str>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// An `Allow` statement matched and no `Deny` did.
    Allow,
    /// A `Deny` statement matched.
    Deny,
    /// No statement matched: the key's own policy decides.
    NotApplicable,
}

#[derive(Debug, Clone)]
enum Principals {
    Anyone,
    /// Principal ARNs / account ids; empty for a statement naming only
    /// principals no key can be (services, federated users).
    Listed(Vec<String>),
}

#[derive(Debug, Clone)]
struct Patterns {
    negated: bool,
    patterns: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Operator {
    StringEquals,
    StringNotEquals,
    StringEqualsIgnoreCase,
    StringNotEqualsIgnoreCase,
    StringLike,
    StringNotLike,
    ArnEquals,
    ArnNotEquals,
    ArnLike,
    ArnNotLike,
}

impl Operator {
    fn parse(name: &str) -> Option<Operator> {
        Some(match name {
            "StringEquals" => Operator::StringEquals,
            "StringNotEquals" => Operator::StringNotEquals,
            "StringEqualsIgnoreCase" => Operator::StringEqualsIgnoreCase,
            "StringNotEqualsIgnoreCase" => Operator::StringNotEqualsIgnoreCase,
            "StringLike" => Operator::StringLike,
            "StringNotLike" => Operator::StringNotLike,
            "ArnEquals" => Operator::ArnEquals,
            "ArnNotEquals" => Operator::ArnNotEquals,
            "ArnLike" => Operator::ArnLike,
            "ArnNotLike" => Operator::ArnNotLike,
            _ => return None,
        })
    }
    fn negated(self) -> bool {
        matches!(
            self,
            Operator::StringNotEquals
                | Operator::StringNotEqualsIgnoreCase
                | Operator::StringNotLike
                | Operator::ArnNotEquals
                | Operator::ArnNotLike
        )
    }
    /// Whether `value` matches one of `wanted`, before negation.
    fn matches(self, wanted: &[String], value: &str) -> bool {
        wanted.iter().any(|w| match self {
            Operator::StringEquals | Operator::StringNotEquals => w == value,
            Operator::StringEqualsIgnoreCase | Operator::StringNotEqualsIgnoreCase => {
                w.eq_ignore_ascii_case(value)
            }
            Operator::ArnEquals | Operator::ArnNotEquals => w == value,
            Operator::StringLike
            | Operator::StringNotLike
            | Operator::ArnLike
            | Operator::ArnNotLike => glob_match(w, value),
        })
    }
}

/// The condition keys Stratus can evaluate (lower case; IAM's keys are
/// case-insensitive).
const CONDITION_KEYS: &[&str] = &[
    "aws:sourcearn",
    "aws:sourceaccount",
    "aws:sourceowner",
    "aws:principalarn",
    "aws:principalaccount",
    "aws:username",
];

#[derive(Debug, Clone)]
struct Condition {
    operator: Operator,
    if_exists: bool,
    key: String,
    values: Vec<String>,
}

impl Condition {
    fn holds(&self, req: &AccessRequest<'_>) -> bool {
        let user = req.principal_arn.rsplit('/').next().unwrap_or_default();
        let value = match self.key.as_str() {
            "aws:sourcearn" => req.source_arn,
            "aws:sourceaccount" | "aws:sourceowner" => req.source_account,
            "aws:principalarn" => Some(req.principal_arn),
            "aws:principalaccount" => Some(req.account),
            "aws:username" => Some(user),
            _ => None,
        };
        match value {
            // IAM: a missing key fails a positive operator and satisfies a
            // negated one, and always satisfies ...IfExists.
            None => self.if_exists || self.operator.negated(),
            Some(v) => self.operator.matches(&self.values, v) != self.operator.negated(),
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    deny: bool,
    principals: Principals,
    actions: Patterns,
    resources: Patterns,
    conditions: Vec<Condition>,
}

/// A parsed, evaluable topic policy.
#[derive(Debug, Clone)]
pub struct TopicPolicy {
    rules: Vec<Rule>,
}

fn strings(v: &Value, what: &str) -> ApiResult<Vec<String>> {
    match v {
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(items) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_string).ok_or_else(|| {
                    policy_error(format_args!("{what} must be a string or a list of strings"))
                })
            })
            .collect(),
        _ => Err(policy_error(format_args!(
            "{what} must be a string or a list of strings"
        ))),
    }
}

fn parse_principal(v: &Value) -> ApiResult<Principals> {
    match v {
        Value::String(s) if s == "*" => Ok(Principals::Anyone),
        Value::Object(m) => {
            let mut listed = Vec::new();
            for (kind, ids) in m {
                let ids = strings(ids, "Principal")?;
                match kind.as_str() {
                    "AWS" if ids.iter().any(|i| i == "*") => return Ok(Principals::Anyone),
                    "AWS" => listed.extend(ids),
                    // No key is a service, federated or canonical user.
                    "Service" | "Federated" | "CanonicalUser" => {}
                    other => {
                        return Err(policy_error(format_args!("Invalid principal type {other}")));
                    }
                }
            }
            Ok(Principals::Listed(listed))
        }
        _ => Err(policy_error("Invalid principal in policy")),
    }
}

fn parse_actions(v: &Value) -> ApiResult<Vec<String>> {
    let actions = strings(v, "Action")?;
    for a in &actions {
        let in_scope = a == "*" || a.get(..4).is_some_and(|p| p.eq_ignore_ascii_case("sns:"));
        if !in_scope {
            return Err(out_of_scope());
        }
    }
    Ok(actions.iter().map(|a| a.to_ascii_lowercase()).collect())
}

fn parse_conditions(v: &Value) -> ApiResult<Vec<Condition>> {
    let Value::Object(ops) = v else {
        return Err(policy_error("Condition must be an object"));
    };
    let mut out = Vec::new();
    for (op_name, block) in ops {
        let (base, if_exists) = match op_name.strip_suffix("IfExists") {
            Some(b) => (b, true),
            None => (op_name.as_str(), false),
        };
        let operator = Operator::parse(base).ok_or_else(|| {
            policy_error(format_args!(
                "Condition operator {op_name} is not supported by Stratus"
            ))
        })?;
        let Value::Object(keys) = block else {
            return Err(policy_error(format_args!("{op_name} must be an object")));
        };
        for (key, values) in keys {
            let lower = key.to_ascii_lowercase();
            if !CONDITION_KEYS.contains(&lower.as_str()) {
                return Err(policy_error(format_args!(
                    "Condition key {key} is not supported by Stratus"
                )));
            }
            out.push(Condition {
                operator,
                if_exists,
                key: lower,
                values: strings(values, key)?,
            });
        }
    }
    Ok(out)
}

fn parse_rule(s: &StatementDoc) -> ApiResult<Rule> {
    let deny = match s.effect.as_str() {
        "Allow" => false,
        "Deny" => true,
        other => return Err(policy_error(format_args!("Invalid effect: {other}"))),
    };
    if s.not_principal.is_some() {
        return Err(policy_error("NotPrincipal is not supported by Stratus"));
    }
    let principals = match &s.principal {
        Some(p) => parse_principal(p)?,
        None => return Err(policy_error("Missing required field Principal")),
    };
    let actions = match (&s.action, &s.not_action) {
        (Some(a), None) => Patterns {
            negated: false,
            patterns: parse_actions(a)?,
        },
        (None, Some(a)) => Patterns {
            negated: true,
            patterns: parse_actions(a)?,
        },
        _ => return Err(policy_error("A statement needs one of Action or NotAction")),
    };
    let resources = match (&s.resource, &s.not_resource) {
        (Some(r), None) => Patterns {
            negated: false,
            patterns: strings(r, "Resource")?,
        },
        (None, Some(r)) => Patterns {
            negated: true,
            patterns: strings(r, "NotResource")?,
        },
        _ => {
            return Err(policy_error(
                "A statement needs one of Resource or NotResource",
            ));
        }
    };
    let conditions = match &s.condition {
        Some(c) => parse_conditions(c)?,
        None => Vec::new(),
    };
    Ok(Rule {
        deny,
        principals,
        actions,
        resources,
        conditions,
    })
}

impl TopicPolicy {
    pub fn parse(text: &str) -> ApiResult<TopicPolicy> {
        let doc = parse_document(text)?;
        let rules = doc
            .statement
            .as_slice()
            .iter()
            .map(parse_rule)
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(TopicPolicy { rules })
    }

    pub fn evaluate(&self, req: &AccessRequest<'_>) -> Decision {
        let action = format!("sns:{}", req.action.to_ascii_lowercase());
        let matching = |r: &&Rule| {
            let principal = match &r.principals {
                Principals::Anyone => true,
                Principals::Listed(ids) => ids.iter().any(|id| {
                    id == req.principal_arn
                        || id == req.account
                        || *id == format!("arn:aws:iam::{}:root", req.account)
                }),
            };
            principal
                && r.actions.patterns.iter().any(|p| glob_match(p, &action)) != r.actions.negated
                && r.resources
                    .patterns
                    .iter()
                    .any(|p| glob_match(p, req.resource))
                    != r.resources.negated
                && r.conditions.iter().all(|c| c.holds(req))
        };
        let mut matched = self.rules.iter().filter(matching).peekable();
        if matched.peek().is_none() {
            return Decision::NotApplicable;
        }
        if matched.any(|r| r.deny) {
            Decision::Deny
        } else {
            Decision::Allow
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:t";
    const ACCOUNT: &str = "123456789012";

    fn req<'a>(user: &'a str, action: &'a str) -> AccessRequest<'a> {
        AccessRequest {
            principal_arn: user,
            account: ACCOUNT,
            action,
            resource: TOPIC,
            source_arn: None,
            source_account: None,
        }
    }

    const ALICE: &str = "arn:aws:iam::123456789012:user/alice";

    #[test]
    fn default_policy_is_awss_and_applies_to_no_key() {
        let p = default_policy(TOPIC, ACCOUNT);
        assert!(p.starts_with(
            r#"{"Version":"2008-10-17","Id":"__default_policy_ID","Statement":[{"Sid":"__default_statement_ID","Effect":"Allow","Principal":{"AWS":"*"},"Action":["SNS:GetTopicAttributes","#
        ));
        let policy = TopicPolicy::parse(&p).unwrap();
        // AWS:SourceOwner is set only for a service acting for an owner.
        assert_eq!(
            policy.evaluate(&req(ALICE, "Publish")),
            Decision::NotApplicable
        );
        let service = AccessRequest {
            source_account: Some(ACCOUNT),
            ..req(ALICE, "Publish")
        };
        assert_eq!(policy.evaluate(&service), Decision::Allow);
    }

    #[test]
    fn add_and_remove_permission_write_what_aws_writes() {
        let p = default_policy(TOPIC, ACCOUNT);
        let one = add_permission(
            &p,
            TOPIC,
            "test",
            &["111111111111".into()],
            &["Publish".into()],
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&one).unwrap();
        assert_eq!(
            doc["Statement"][1],
            serde_json::json!({"Sid": "test", "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::111111111111:root"},
                "Action": "SNS:Publish", "Resource": TOPIC})
        );
        let e = add_permission(
            &one,
            TOPIC,
            "test",
            &["111111111111".into()],
            &["Publish".into()],
        )
        .unwrap_err();
        assert_eq!(e.message, "Invalid parameter: Statement already exists");
        let e = add_permission(&one, TOPIC, "x", &["111111111111".into()], &["Nope".into()])
            .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Policy statement action out of service scope!"
        );
        let two = add_permission(
            &one,
            TOPIC,
            "two",
            &["111111111111".into(), "222222222222".into()],
            &["publish".into(), "Subscribe".into()],
        )
        .unwrap();
        let doc: Value = serde_json::from_str(&two).unwrap();
        assert_eq!(
            doc["Statement"][2]["Action"],
            serde_json::json!(["SNS:Publish", "SNS:Subscribe"])
        );
        assert_eq!(
            doc["Statement"][2]["Principal"]["AWS"][1],
            "arn:aws:iam::222222222222:root"
        );
        let back = remove_permission(&remove_permission(&two, "two").unwrap(), "test").unwrap();
        assert_eq!(back, p);
        assert_eq!(remove_permission(&p, "absent").unwrap(), p);
    }

    #[test]
    fn deny_wins_and_principals_actions_conditions_match() {
        let p = serde_json::json!({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"AWS": ALICE}, "Action": "sns:publish", "Resource": TOPIC},
            {"Effect": "Allow", "Principal": "*", "Action": "SNS:Get*", "Resource": "*"},
            {"Effect": "Deny", "Principal": {"AWS": ACCOUNT}, "Action": "sns:GetTopicAttributes",
             "Resource": TOPIC, "Condition": {"StringEquals": {"aws:username": "bob"}}},
        ]})
        .to_string();
        let policy = TopicPolicy::parse(&p).unwrap();
        let bob = "arn:aws:iam::123456789012:user/bob";
        assert_eq!(policy.evaluate(&req(ALICE, "Publish")), Decision::Allow);
        assert_eq!(
            policy.evaluate(&req(bob, "Publish")),
            Decision::NotApplicable
        );
        assert_eq!(
            policy.evaluate(&req(ALICE, "GetTopicAttributes")),
            Decision::Allow
        );
        assert_eq!(
            policy.evaluate(&req(bob, "GetTopicAttributes")),
            Decision::Deny
        );
        assert_eq!(
            policy.evaluate(&req(bob, "DeleteTopic")),
            Decision::NotApplicable
        );
    }

    #[test]
    fn unsupported_or_malformed_policies_are_refused() {
        for (bad, wanted) in [
            ("[]", "Policy Error"),
            (
                r#"{"Statement":[{"Effect":"Maybe","Principal":"*","Action":"sns:*","Resource":"*"}]}"#,
                "Invalid effect",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:*","Resource":"*"}]}"#,
                "out of service scope",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:*","Resource":"*","Condition":{"IpAddress":{"aws:SourceIp":"1.2.3.4"}}}]}"#,
                "IpAddress",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:*","Resource":"*","Condition":{"StringEquals":{"aws:SourceVpc":"v"}}}]}"#,
                "aws:SourceVpc",
            ),
            (
                r#"{"Statement":[{"Effect":"Allow","NotPrincipal":{"AWS":"x"},"Action":"sns:*","Resource":"*"}]}"#,
                "NotPrincipal",
            ),
        ] {
            let e = validate(bad).unwrap_err();
            assert!(e.message.contains(wanted), "{bad}: {}", e.message);
        }
        assert!(validate("").is_ok());
        let ok = r#"{"Statement":{"Effect":"Allow","Principal":"*","Action":"sns:Publish","Resource":"*","Condition":{"ArnLikeIfExists":{"aws:SourceArn":"arn:aws:cloudwatch:*"}}}}"#;
        assert!(validate(ok).is_ok());
        let policy = TopicPolicy::parse(ok).unwrap();
        assert_eq!(policy.evaluate(&req(ALICE, "Publish")), Decision::Allow);
        let other = AccessRequest {
            source_arn: Some("arn:aws:s3:::b"),
            ..req(ALICE, "Publish")
        };
        assert_eq!(policy.evaluate(&other), Decision::NotApplicable);
    }
}
