-- model architectures in force on each assessment date
create table if not exists model_catalog (
    assessment_date date not null,
    hf_repo_id varchar not null,
    family varchar not null,
    params_total_b double not null,
    params_active_b double not null,
    num_hidden_layers integer not null,
    hidden_size integer,
    num_attention_heads integer,
    num_key_value_heads integer not null,
    head_dim integer,
    max_position_embeddings bigint,
    torch_dtype varchar,
    attention_type varchar not null,
    kv_lora_rank integer,
    sliding_window integer,
    source varchar not null
);
