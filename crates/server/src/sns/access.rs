//! Who may act on a topic: the caller's key policy combined with the
//! topic's `Policy` attribute (`stratus_model::sns::topic_policy`).
//!
//! Keys are the IAM users of Stratus's one account; a key named `alice` is
//! the principal `arn:aws:iam::<account>:user/alice`, and a statement naming
//! the account (`<account>` or `arn:aws:iam::<account>:root`) or `*` names
//! every key. A request is refused if a `Deny` statement of the topic policy
//! matches it (whatever the key policy says), allowed if an `Allow`
//! statement matches it, and otherwise decided by the key policy alone. The
//! default policy's statement is conditioned on `AWS:SourceOwner`, which a
//! key's own request never carries, so it changes nothing.

use super::store;
use crate::auth::{self, Caller};
use crate::state::AppState;
use stratus_model::sns::topic_policy::{AccessRequest, Decision, TopicPolicy};
use stratus_model::{ApiError, ApiResult, ErrorCode};

/// The principal ARN of the caller's key.
pub fn principal_arn(caller: &Caller) -> String {
    format!(
        "arn:aws:iam::{}:user/{}",
        crate::ACCOUNT_ID,
        caller.key.name
    )
}

/// Authorizes SNS action `action` (`Publish`) on topic `topic_arn` (which
/// may not exist: then only the key policy counts).
pub fn authorize_topic(
    state: &AppState,
    caller: &Caller,
    action: &str,
    topic_arn: &str,
) -> ApiResult<()> {
    let iam_action = format!("sns:{action}");
    let policy =
        store::get_topic(&state.meta, topic_arn)?.and_then(|t| t.attributes.get("Policy").cloned());
    let decision = match policy {
        None => Decision::NotApplicable,
        Some(text) => {
            let principal = principal_arn(caller);
            let req = AccessRequest {
                principal_arn: &principal,
                account: crate::ACCOUNT_ID,
                action,
                resource: topic_arn,
                source_arn: None,
                source_account: None,
            };
            match TopicPolicy::parse(&text) {
                Ok(p) => p.evaluate(&req),
                // Policies are validated when set, so this is one stored by an
                // older Stratus (checked only as JSON then, never enforced):
                // the key policy decides, as it did; setting a valid policy
                // stays possible.
                Err(_) => Decision::NotApplicable,
            }
        }
    };
    match decision {
        Decision::Allow => Ok(()),
        Decision::NotApplicable => auth::authorize(caller, &iam_action, topic_arn),
        Decision::Deny => Err(ApiError::new(
            ErrorCode::AuthorizationError,
            format!(
                "User: {} is not authorized to perform: SNS:{} on resource: {} with an explicit deny in a resource-based policy",
                principal_arn(caller),
                action,
                topic_arn
            ),
        )),
    }
}
