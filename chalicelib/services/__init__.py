"""Business rules as plain functions over models; each rule lives in exactly one of them."""
