//! BERT-family encoders (BERT, MiniLM, RoBERTa).
