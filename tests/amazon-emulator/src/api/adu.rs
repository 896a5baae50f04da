//! AMC advertiser data upload (`/amc/advertiserData/{instanceId}/…`): data sets and
//! uploads. No OpenAPI file is public: the guide pages' samples (`adu-examples.md`,
//! `advertiser-data-upload.md`, `advertiser-data-sets.md`) are the contract.

use super::*;
use crate::adu;

/// The AMC account an advertiser-data request acts for, once the AMC headers check out and
/// the account owns `instance_id`.
fn amc_instance_owner(
    world: &mut World,
    call: &Call<'_>,
    instance_id: &str,
) -> Result<Advertiser, Reply> {
    let (caller, entity) = amc_caller(world, call)?;
    let account_id = world
        .config
        .advertiser_by_entity(entity)
        .map(|advertiser| advertiser.account_id.clone())
        .ok_or_else(|| {
            Reply::forbidden("The access token's grant does not include this AMC account.")
        })?;
    let advertiser = advertiser_for(world, &caller, call, &account_id)?;
    if advertiser.amc_instance_id.as_deref() != Some(instance_id) {
        // Emulator choice: 404 whether the instance does not exist or belongs to another
        // account, so that instance ids cannot be probed.
        return Err(Reply::not_found(
            "No AMC instance with this id for this AMC account.",
        ));
    }
    Ok(advertiser)
}

/// `POST /amc/advertiserData/{instanceId}/dataSets`: 200 `{dataSetId, instanceId}`. The
/// spec says only that it "returns the dataSetId"; `instanceId` follows Amazon's
/// `CreateDataSetResponseContent`.
pub(super) fn create_data_set(
    world: &mut World,
    call: &Call<'_>,
    instance_id: &str,
) -> Result<Reply, Reply> {
    let advertiser = amc_instance_owner(world, call, instance_id)?;
    require_media(call, &[JSON])?;
    let body = parse_json(call, world.config.max_body_bytes)?;
    let errors = adu::validate_data_set(&body);
    if !errors.is_empty() {
        return Err(invalid_fields(&errors));
    }
    let data_set = body["dataSet"].clone();
    let data_set_id = data_set["dataSetId"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let key = (instance_id.to_owned(), data_set_id.clone());
    if world.data_sets.contains_key(&key) {
        return Err(Reply::conflict(
            "A data set with this dataSetId exists in this instance.",
        ));
    }
    let held = world
        .data_sets
        .keys()
        .filter(|(instance, _)| instance == instance_id)
        .count();
    if held >= adu::MAX_DATA_SETS {
        return Err(Reply::bad_request(format!(
            "An AMC instance holds at most {} data sets.",
            adu::MAX_DATA_SETS
        )));
    }
    let created_at = world.now_text();
    world.data_sets.insert(
        key,
        DataSet {
            instance_id: instance_id.to_owned(),
            account_id: advertiser.account_id,
            created_at,
            data_set,
        },
    );
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "dataSetId": data_set_id, "instanceId": instance_id }),
    ))
}

/// `GET /amc/advertiserData/{instanceId}/dataSets/{dataSetId}`: the definition as created.
pub(super) fn get_data_set(
    world: &mut World,
    call: &Call<'_>,
    instance_id: &str,
    data_set_id: &str,
) -> Result<Reply, Reply> {
    amc_instance_owner(world, call, instance_id)?;
    let key = (instance_id.to_owned(), data_set_id.to_owned());
    let Some(data_set) = world.data_sets.get(&key) else {
        return Err(Reply::not_found(
            "No data set with this dataSetId in this instance.",
        ));
    };
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "dataSet": data_set.data_set }),
    ))
}

/// `POST /amc/advertiserData/{instanceId}/uploads/{dataSetId}`: validates the request,
/// runs the job at once against the emulated S3, and answers 200 `{status: "SUBMITTED",
/// uploadId}` (`adu-examples.md`; the upload page's older sample says `PENDING`). A missing object or a bad row fails the job, not the request (emulator
/// choice: Amazon reads S3 after answering).
pub(super) fn create_upload(
    world: &mut World,
    call: &Call<'_>,
    instance_id: &str,
    data_set_id: &str,
) -> Result<Reply, Reply> {
    let advertiser = amc_instance_owner(world, call, instance_id)?;
    let key = (instance_id.to_owned(), data_set_id.to_owned());
    let Some(data_set) = world.data_sets.get(&key) else {
        return Err(Reply::not_found(
            "No data set with this dataSetId in this instance.",
        ));
    };
    let schema = adu::Schema::from_data_set(&data_set.data_set);
    require_media(call, &[JSON])?;
    let body = parse_json(call, world.config.max_body_bytes)?;
    let errors = adu::validate_upload(&body);
    if !errors.is_empty() {
        return Err(invalid_fields(&errors));
    }
    let request = adu::UploadRequest::from_body(&body);
    let job_fault = world.take_job_fault("amcUploads");
    let (result, objects) = if job_fault.fail {
        let reason = "Emulated upload failure (job_failed fault).".to_owned();
        (Err(reason), Vec::new())
    } else {
        adu::run_upload(&schema, &request, &world.s3_objects)
    };
    let (status, output_row_count, failure_reason) = match result {
        Ok(rows) => ("SUCCESS", rows, None),
        Err(reason) => ("FAILED", 0, Some(reason)),
    };
    let upload_id = world.mint_uuid();
    let now = world.now_seconds_text();
    world.uploads.insert(
        upload_id.clone(),
        Upload {
            upload_id: upload_id.clone(),
            instance_id: instance_id.to_owned(),
            data_set_id: data_set_id.to_owned(),
            account_id: advertiser.account_id,
            status,
            pending_polls: job_fault.pending_polls,
            created_at: now.clone(),
            updated_at: now,
            output_row_count,
            failure_reason,
            update_strategy: body["updateStrategy"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            data_source: body["dataSource"].clone(),
            objects,
        },
    );
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "status": "SUBMITTED", "uploadId": upload_id }),
    ))
}

/// `GET /amc/advertiserData/{instanceId}/uploads/{dataSetId}/{uploadId}`: `IN_PROGRESS`
/// while a `job_pending` fault lasts, then `SUCCESS` or `FAILED` with the reason in
/// `message`; the fields and the `dataSource` echo (`s3Bucket`, `s3ObjectKey` or
/// `s3PrefixKey`) as in `adu-examples.md`. The status enum is `FAILED, IN_PROGRESS,
/// SUBMITTED, SUCCESS`.
pub(super) fn get_upload(
    world: &mut World,
    call: &Call<'_>,
    instance_id: &str,
    data_set_id: &str,
    upload_id: &str,
) -> Result<Reply, Reply> {
    amc_instance_owner(world, call, instance_id)?;
    let now = world.now_seconds_text();
    let Some(upload) = world
        .uploads
        .get_mut(upload_id)
        .filter(|upload| upload.instance_id == instance_id && upload.data_set_id == data_set_id)
    else {
        return Err(Reply::not_found(
            "No upload with this uploadId for this data set.",
        ));
    };
    let status = if upload.pending_polls > 0 {
        upload.pending_polls -= 1;
        if upload.pending_polls == 0 {
            // The job "finishes" after its last pending poll.
            upload.updated_at = now;
        }
        "IN_PROGRESS"
    } else {
        upload.status
    };
    let rows = if status == "SUCCESS" {
        json!({ "OutputRowCount": upload.output_row_count })
    } else {
        json!({})
    };
    let source = &upload.data_source;
    let text = |keys: &[&str]| {
        keys.iter()
            .find_map(|key| source.get(*key).and_then(Value::as_str))
    };
    let mut data_source = json!({ "s3Bucket": text(&["sourceS3Bucket", "s3Bucket"]) });
    if let Some(key) = text(&["sourceFileS3Key", "s3ObjectKey"]) {
        data_source["s3ObjectKey"] = json!(key);
    } else if let Some(prefix) = text(&["sourceS3Prefix", "s3PrefixKey"]) {
        data_source["s3PrefixKey"] = json!(prefix);
    } else if let Some(manifest) = text(&["sourceManifestS3Key"]) {
        data_source["s3ManifestKey"] = json!(manifest);
    }
    let mut body = json!({
        "uploadId": upload.upload_id,
        "instanceId": upload.instance_id,
        "dataSetId": upload.data_set_id,
        "dataSource": data_source,
        "status": status,
        "createdAt": upload.created_at,
        "updatedAt": upload.updated_at,
        "metrics": rows
    });
    if status == "FAILED"
        && let Some(reason) = &upload.failure_reason
    {
        body["message"] = json!(reason);
    }
    Ok(Reply::json(StatusCode::OK, json!({ "upload": body })))
}
