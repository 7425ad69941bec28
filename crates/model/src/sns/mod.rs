//! SNS domain: topic and subscription names and ARNs, attributes, filter
//! policies, publish validation and the JSON documents SNS delivers
//! (aws-api.md §3). Pure: the server owns storage and delivery.

pub mod arn;
pub mod attributes;
pub mod delivery_policy;
pub mod document;
pub mod fifo;
pub mod filter;
pub mod filter_syntax;
pub mod ops;
pub mod publish;
pub mod sms;
pub mod topic_policy;

use crate::error::{ApiError, ErrorCode};

/// `InvalidParameter` with AWS's `Invalid parameter: <what>` wording.
pub fn invalid(what: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        ErrorCode::InvalidParameter,
        format!("Invalid parameter: {what}"),
    )
}

/// `InvalidParameter` for a missing required parameter.
pub fn required(name: &str) -> ApiError {
    invalid(format_args!(
        "{name} Reason: no value for required parameter"
    ))
}

/// `NotFound` "Topic does not exist".
pub fn topic_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "Topic does not exist")
}

/// `NotFound` "Subscription does not exist".
pub fn subscription_not_found() -> ApiError {
    ApiError::new(ErrorCode::NotFound, "Subscription does not exist")
}

/// Items per page of ListTopics / ListSubscriptions(ByTopic).
pub const PAGE_SIZE: usize = 100;
