package mongodb

// IsDuplicateKey is isDuplicateKey, for the classification test.
var IsDuplicateKey = isDuplicateKey

// Unavailable is unavailable, for the classification test.
var Unavailable = unavailable

// UnavailableResult is unavailableResult, for the classification test.
var UnavailableResult = unavailableResult
