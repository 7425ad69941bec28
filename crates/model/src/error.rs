//! AWS error codes as the wire protocols need them: one code, its modeled shape
//! name (the `__type` suffix in JSON/CBOR), its HTTP status and fault side.

use std::fmt;

/// Every error code Stratus answers with, across CloudWatch, SNS and auth.
///
/// `code()` is what query clients see in `<Code>` and what JSON/CBOR clients
/// see in `x-amzn-query-error`; `shape()` is the `__type` shape name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorCode {
    // CloudWatch (aws-api.md §2.12)
    InvalidParameterValue,
    MissingParameter,
    InvalidParameterCombination,
    InvalidNextToken,
    InvalidFormat,
    InvalidParameterInput,
    LimitExceeded,
    LimitExceededException,
    ResourceNotFound,
    ResourceNotFoundException,
    ResourceConflict,
    ConcurrentModificationException,
    ValidationError,
    InternalServiceError,
    // Generic / protocol level
    InvalidAction,
    InvalidQueryParameter,
    MalformedInput,
    RequestEntityTooLarge,
    /// AWS's common 503: a temporary failure (here: storage refused a write,
    /// e.g. a full disk); SDKs retry it.
    ServiceUnavailable,
    // Auth
    IncompleteSignature,
    InvalidClientTokenId,
    SignatureDoesNotMatch,
    AccessDenied,
    RequestExpired,
    MissingAuthenticationToken,
    // SNS (aws-api.md §3.2)
    InvalidParameter,
    NotFound,
    AuthorizationError,
    InternalError,
    Throttled,
    ParameterValueInvalid,
    TooManyEntriesInBatchRequest,
    EmptyBatchRequest,
    BatchEntryIdsNotDistinct,
    InvalidBatchEntryId,
    BatchRequestTooLong,
    TagLimitExceeded,
    /// A wrong SMS sandbox one-time password.
    VerificationException,
    /// The phone number opted out of SMS.
    OptedOut,
    // CloudWatch Logs
    InvalidParameterException,
    ResourceAlreadyExistsException,
    MalformedQueryException,
    OperationAbortedException,
    InvalidOperationException,
}

/// Whether the caller (`Sender`) or the service (`Receiver`) is at fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    Sender,
    Receiver,
}

impl Fault {
    pub fn as_str(self) -> &'static str {
        match self {
            Fault::Sender => "Sender",
            Fault::Receiver => "Receiver",
        }
    }
}

impl ErrorCode {
    /// Every code, for reverse lookups.
    pub const ALL: &'static [ErrorCode] = &[
        Self::InvalidParameterValue,
        Self::MissingParameter,
        Self::InvalidParameterCombination,
        Self::InvalidNextToken,
        Self::InvalidFormat,
        Self::InvalidParameterInput,
        Self::LimitExceeded,
        Self::LimitExceededException,
        Self::ResourceNotFound,
        Self::ResourceNotFoundException,
        Self::ResourceConflict,
        Self::ConcurrentModificationException,
        Self::ValidationError,
        Self::InternalServiceError,
        Self::InvalidAction,
        Self::InvalidQueryParameter,
        Self::MalformedInput,
        Self::RequestEntityTooLarge,
        Self::ServiceUnavailable,
        Self::IncompleteSignature,
        Self::InvalidClientTokenId,
        Self::SignatureDoesNotMatch,
        Self::AccessDenied,
        Self::RequestExpired,
        Self::MissingAuthenticationToken,
        Self::InvalidParameter,
        Self::NotFound,
        Self::AuthorizationError,
        Self::InternalError,
        Self::Throttled,
        Self::ParameterValueInvalid,
        Self::TooManyEntriesInBatchRequest,
        Self::EmptyBatchRequest,
        Self::BatchEntryIdsNotDistinct,
        Self::InvalidBatchEntryId,
        Self::BatchRequestTooLong,
        Self::TagLimitExceeded,
        Self::VerificationException,
        Self::OptedOut,
        Self::InvalidParameterException,
        Self::ResourceAlreadyExistsException,
        Self::MalformedQueryException,
        Self::OperationAbortedException,
        Self::InvalidOperationException,
    ];

    /// The code whose query-protocol name is `code`.
    pub fn from_code(code: &str) -> Option<ErrorCode> {
        Self::ALL.iter().copied().find(|c| c.code() == code)
    }

    /// The legacy (query) error code.
    pub fn code(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidParameterValue => "InvalidParameterValue",
            MissingParameter => "MissingParameter",
            InvalidParameterCombination => "InvalidParameterCombination",
            InvalidNextToken => "InvalidNextToken",
            InvalidFormat => "InvalidFormat",
            InvalidParameterInput => "InvalidParameterInput",
            LimitExceeded => "LimitExceeded",
            LimitExceededException => "LimitExceededException",
            ResourceNotFound => "ResourceNotFound",
            ResourceNotFoundException => "ResourceNotFoundException",
            ResourceConflict => "ResourceConflict",
            ConcurrentModificationException => "ConcurrentModificationException",
            ValidationError => "ValidationError",
            InternalServiceError => "InternalServiceError",
            InvalidAction => "InvalidAction",
            InvalidQueryParameter => "InvalidQueryParameter",
            MalformedInput => "MalformedInput",
            RequestEntityTooLarge => "RequestEntityTooLarge",
            ServiceUnavailable => "ServiceUnavailable",
            IncompleteSignature => "IncompleteSignature",
            InvalidClientTokenId => "InvalidClientTokenId",
            SignatureDoesNotMatch => "SignatureDoesNotMatch",
            AccessDenied => "AccessDenied",
            RequestExpired => "RequestExpired",
            MissingAuthenticationToken => "MissingAuthenticationToken",
            InvalidParameter => "InvalidParameter",
            NotFound => "NotFound",
            AuthorizationError => "AuthorizationError",
            InternalError => "InternalError",
            Throttled => "Throttled",
            ParameterValueInvalid => "ParameterValueInvalid",
            TooManyEntriesInBatchRequest => "TooManyEntriesInBatchRequest",
            EmptyBatchRequest => "EmptyBatchRequest",
            BatchEntryIdsNotDistinct => "BatchEntryIdsNotDistinct",
            InvalidBatchEntryId => "InvalidBatchEntryId",
            BatchRequestTooLong => "BatchRequestTooLong",
            TagLimitExceeded => "TagLimitExceeded",
            VerificationException => "VerificationException",
            OptedOut => "OptedOut",
            InvalidParameterException => "InvalidParameterException",
            ResourceAlreadyExistsException => "ResourceAlreadyExistsException",
            MalformedQueryException => "MalformedQueryException",
            OperationAbortedException => "OperationAbortedException",
            InvalidOperationException => "InvalidOperationException",
        }
    }

    /// The modeled shape name used as the `__type` of JSON/CBOR errors.
    pub fn shape(self) -> &'static str {
        use ErrorCode::*;
        match self {
            InvalidParameterValue => "InvalidParameterValueException",
            MissingParameter => "MissingRequiredParameterException",
            InvalidParameterCombination => "InvalidParameterCombinationException",
            InvalidNextToken => "InvalidNextToken",
            InvalidFormat => "InvalidFormatFault",
            InvalidParameterInput => "DashboardInvalidInputError",
            LimitExceeded => "LimitExceededFault",
            InternalServiceError => "InternalServiceFault",
            ValidationError => "ValidationException",
            NotFound => "NotFoundException",
            InvalidParameter => "InvalidParameterException",
            AuthorizationError => "AuthorizationErrorException",
            InternalError => "InternalErrorException",
            Throttled => "ThrottledException",
            ParameterValueInvalid => "InvalidParameterValueException",
            OptedOut => "OptedOutException",
            other => other.code(),
        }
    }

    /// HTTP status as AWS answers it (for JSON/CBOR: with `x-amzn-query-mode: true`).
    pub fn status(self) -> u16 {
        use ErrorCode::*;
        match self {
            ResourceNotFound | ResourceNotFoundException | NotFound => 404,
            ResourceConflict => 409,
            ConcurrentModificationException | Throttled => 429,
            InternalServiceError | InternalError => 500,
            IncompleteSignature
            | InvalidClientTokenId
            | SignatureDoesNotMatch
            | AccessDenied
            | RequestExpired
            | MissingAuthenticationToken
            | AuthorizationError => 403,
            RequestEntityTooLarge => 413,
            ServiceUnavailable => 503,
            _ => 400,
        }
    }

    pub fn fault(self) -> Fault {
        match self {
            ErrorCode::InternalServiceError
            | ErrorCode::InternalError
            | ErrorCode::ServiceUnavailable => Fault::Receiver,
            _ => Fault::Sender,
        }
    }
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// An error answered to an API caller: an AWS code plus a human message that
/// names the offending parameter.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
}

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
    pub fn invalid_value(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterValue, message)
    }
    pub fn missing(param: &str) -> Self {
        Self::new(
            ErrorCode::MissingParameter,
            format!("The parameter {param} is required."),
        )
    }
    pub fn combination(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameterCombination, message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InternalServiceError, message)
    }
    /// A temporary refusal (503): nothing was changed; retrying later works.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::ServiceUnavailable, message)
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_all_is_complete() {
        for c in ErrorCode::ALL {
            assert_eq!(ErrorCode::from_code(c.code()), Some(*c));
        }
        // Adding a variant without listing it here breaks this match.
        let count = |c: ErrorCode| -> usize {
            match c {
                ErrorCode::InvalidParameterValue
                | ErrorCode::MissingParameter
                | ErrorCode::InvalidParameterCombination
                | ErrorCode::InvalidNextToken
                | ErrorCode::InvalidFormat
                | ErrorCode::InvalidParameterInput
                | ErrorCode::LimitExceeded
                | ErrorCode::LimitExceededException
                | ErrorCode::ResourceNotFound
                | ErrorCode::ResourceNotFoundException
                | ErrorCode::ResourceConflict
                | ErrorCode::ConcurrentModificationException
                | ErrorCode::ValidationError
                | ErrorCode::InternalServiceError
                | ErrorCode::InvalidAction
                | ErrorCode::InvalidQueryParameter
                | ErrorCode::MalformedInput
                | ErrorCode::RequestEntityTooLarge
                | ErrorCode::ServiceUnavailable
                | ErrorCode::IncompleteSignature
                | ErrorCode::InvalidClientTokenId
                | ErrorCode::SignatureDoesNotMatch
                | ErrorCode::AccessDenied
                | ErrorCode::RequestExpired
                | ErrorCode::MissingAuthenticationToken
                | ErrorCode::InvalidParameter
                | ErrorCode::NotFound
                | ErrorCode::AuthorizationError
                | ErrorCode::InternalError
                | ErrorCode::Throttled
                | ErrorCode::ParameterValueInvalid
                | ErrorCode::TooManyEntriesInBatchRequest
                | ErrorCode::EmptyBatchRequest
                | ErrorCode::BatchEntryIdsNotDistinct
                | ErrorCode::InvalidBatchEntryId
                | ErrorCode::BatchRequestTooLong
                | ErrorCode::TagLimitExceeded
                | ErrorCode::VerificationException
                | ErrorCode::OptedOut
                | ErrorCode::InvalidParameterException
                | ErrorCode::ResourceAlreadyExistsException
                | ErrorCode::MalformedQueryException
                | ErrorCode::OperationAbortedException
                | ErrorCode::InvalidOperationException => 1,
            }
        };
        assert_eq!(ErrorCode::ALL.iter().map(|c| count(*c)).sum::<usize>(), 44);
        assert_eq!(ErrorCode::from_code("Nope"), None);
    }
}
