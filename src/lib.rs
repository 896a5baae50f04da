//! matchkey: Amazon Ads match keys, normalized and hashed exactly as Amazon expects.
