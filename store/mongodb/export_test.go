package mongodb

// IsDuplicateKey is isDuplicateKey, for the classification test.
var IsDuplicateKey = isDuplicateKey
