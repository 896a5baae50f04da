//! Account discovery: `GET /v2/profiles`, `POST /adsApi/v1/query/advertiserAccounts`,
//! `GET /dsp/advertisers` (`dsp-advertisers.yaml`: `startIndex`/`count` pages),
//! `GET /amc/accounts` and `GET /amc/instances` (`AMCAdministration_prod_3p.json`:
//! `nextToken` pages).

use super::*;

/// `GET /v2/profiles`: the profiles of the reachable advertisers (of the path's region,
/// when the path has a region prefix).
pub(super) fn list_profiles(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    // Amazon answered Segment's GET without Content-Type with 415 (doc A4, PR #2069).
    require_media(call, &[JSON])?;
    let profiles: Vec<Value> = world
        .config
        .advertisers
        .iter()
        .filter(|advertiser| can_reach(&caller, advertiser))
        .filter(|advertiser| call.region.is_none_or(|region| region == advertiser.region))
        .map(|advertiser| {
            json!({
                "profileId": advertiser.profile_id,
                "countryCode": advertiser.country_code,
                "currencyCode": advertiser.currency_code,
                "timezone": advertiser.timezone,
                "accountInfo": {
                    "marketplaceStringId": marketplace_id(&advertiser.country_code),
                    "id": advertiser.entity(),
                    "type": advertiser.profile_type,
                    "name": advertiser.name,
                    "validPaymentMethod": true
                }
            })
        })
        .collect();
    Ok(Reply::json(StatusCode::OK, Value::Array(profiles)))
}

/// `POST /adsApi/v1/query/advertiserAccounts`: reachable advertisers as global accounts
/// whose `alternateIds[].dspAdvertiserId` is the Events API account id.
pub(super) fn query_advertiser_accounts(
    world: &mut World,
    call: &Call<'_>,
) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Ads)?;
    let body = if call.body.is_empty() {
        Map::new()
    } else {
        require_media(call, &[JSON])?;
        parse_object(
            call,
            world.config.max_body_bytes,
            &[
                "advertiserAccountIdFilter",
                "isGlobalAccountFilter",
                "maxResults",
                "nextToken",
            ],
        )?
    };
    let max_results = match body.get("maxResults") {
        None => 100,
        Some(value) => match value.as_u64() {
            Some(n @ 10..=100) => n as usize,
            _ => {
                return Err(Reply::bad_request(
                    "maxResults must be an integer between 10 and 100.",
                ));
            }
        },
    };
    let start = match body.get("nextToken") {
        None => 0,
        Some(token) => token
            .as_str()
            .and_then(|token| token.parse::<usize>().ok())
            .ok_or_else(|| Reply::bad_request("nextToken is not a token this API issued."))?,
    };
    let id_filter = string_filter(&body, "advertiserAccountIdFilter")?;
    let global_filter = match body.get("isGlobalAccountFilter") {
        None => None,
        Some(filter) => match filter
            .get("include")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            Some([Value::Bool(include)]) => Some(*include),
            _ => {
                return Err(Reply::bad_request(
                    "isGlobalAccountFilter.include must hold exactly one boolean.",
                ));
            }
        },
    };
    let accounts: Vec<Value> = world
        .config
        .advertisers
        .iter()
        .filter(|advertiser| can_reach(&caller, advertiser))
        .filter(|advertiser| {
            id_filter
                .as_ref()
                .is_none_or(|ids| ids.contains(&account_key(advertiser)))
        })
        .filter(|_| global_filter.is_none_or(|include| include))
        .map(|advertiser| {
            json!({
                "advertiserAccountId": account_key(advertiser),
                "displayName": advertiser.name,
                "currencyCode": advertiser.currency_code,
                "isGlobalAccount": true,
                "status": {"statusCode": "APPROVED", "statusMessage": "Emulated account."},
                "businessDetails": [{"addressToken": "EMULATED"}],
                "alternateIds": [{
                    "countryCode": advertiser.country_code,
                    "profileId": advertiser.profile_id.to_string(),
                    "entityId": advertiser.entity(),
                    "region": advertiser.region.code(),
                    "dspAdvertiserId": advertiser.account_id
                }]
            })
        })
        .collect();
    let page: Vec<Value> = accounts
        .iter()
        .skip(start)
        .take(max_results)
        .cloned()
        .collect();
    let mut response = json!({ "advertiserAccounts": page });
    if start + max_results < accounts.len() {
        response["nextToken"] = json!((start + max_results).to_string());
    }
    Ok(Reply::json(StatusCode::OK, response))
}

/// The query of a GET as name/value pairs; unknown names refused.
fn query_pairs(call: &Call<'_>, known: &[&str]) -> Result<Vec<(String, String)>, Reply> {
    let query: Vec<(String, String)> = form_urlencoded::parse(call.query.unwrap_or("").as_bytes())
        .into_owned()
        .collect();
    if let Some((name, _)) = query
        .iter()
        .find(|(name, _)| !known.contains(&name.as_str()))
    {
        return Err(Reply::bad_request(format!(
            "Unknown query parameter '{name}'."
        )));
    }
    Ok(query)
}

/// A query parameter's value.
fn query_value<'q>(query: &'q [(String, String)], name: &str) -> Option<&'q str> {
    query
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.as_str())
}

/// `GET /dsp/advertisers?startIndex=&count=&advertiserIdFilter=` with
/// `Amazon-Advertising-API-Scope: <agency profile id>` (`dsp-advertisers.yaml`):
/// `{totalResults, response[{advertiserId, name, currency, url, country, timezone}]}`.
/// Emulator model: an agency profile lists every agency advertiser of its entity in its
/// region, in configuration order; `count` 1–100 (default 100), `startIndex` 0–29900.
pub(super) fn list_dsp_advertisers(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let advertiser = require_scope(world, &caller, call)?;
    if let Some(region) = call.region
        && region != advertiser.region
    {
        return Err(Reply::forbidden(format!(
            "This profile lives in region {}; call that region's host.",
            advertiser.region.code()
        )));
    }
    // Emulator choice: Amazon's answer for a sponsored-ads profile is not documented.
    if advertiser.profile_type != ProfileType::Agency {
        return Err(Reply::forbidden(
            "DSP advertisers are listed for agency (DSP) profiles only.",
        ));
    }
    let query = query_pairs(call, &["startIndex", "count", "advertiserIdFilter"])?;
    let count = match query_value(&query, "count") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n @ 1..=100) => n,
            _ => {
                return Err(Reply::bad_request(
                    "count must be an integer between 1 and 100.",
                ));
            }
        },
    };
    let start = match query_value(&query, "startIndex") {
        None => 0,
        Some(text) => match text.parse::<usize>() {
            Ok(n @ 0..=29_900) => n,
            _ => {
                return Err(Reply::bad_request(
                    "startIndex must be an integer between 0 and 29900.",
                ));
            }
        },
    };
    let filter: Option<Vec<&str>> = query_value(&query, "advertiserIdFilter")
        .map(|ids| ids.split(',').map(str::trim).collect());
    let mut seen = std::collections::BTreeSet::new();
    let list: Vec<Value> = world
        .config
        .advertisers
        .iter()
        .filter(|other| {
            other.entity() == advertiser.entity()
                && other.region == advertiser.region
                && other.profile_type == ProfileType::Agency
                && can_reach(&caller, other)
                && filter
                    .as_ref()
                    .is_none_or(|ids| ids.contains(&other.account_id.as_str()))
                && seen.insert(other.account_id.clone())
        })
        .map(|other| {
            json!({
                "advertiserId": other.account_id,
                "name": other.name,
                "currency": other.currency_code,
                "url": "https://advertiser.example/",
                "country": other.country_code,
                "timezone": other.timezone
            })
        })
        .collect();
    let page: Vec<Value> = list.iter().skip(start).take(count).cloned().collect();
    Ok(Reply::json(
        StatusCode::OK,
        json!({ "totalResults": list.len(), "response": page }),
    ))
}

/// Most AMC accounts one `GET /amc/accounts` answers (`amcAccounts` `maxItems: 100`).
const AMC_ACCOUNTS_PAGE: usize = 100;

/// `GET /amc/accounts[?nextToken=]`: `{amcAccounts[{accountId, accountName,
/// marketplaceId}], nextToken?}`, the AMC accounts (entity ids) of the reachable
/// advertisers that have an AMC instance, of the path's region when it has a prefix, 100
/// a page (`AMCAdministration_prod_3p.json`).
pub(super) fn list_amc_accounts(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let caller = authenticate(world, call, ClientHeader::Advertising)?;
    let query = query_pairs(call, &["nextToken"])?;
    let start = match query_value(&query, "nextToken") {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| Reply::bad_request("nextToken is not a token this API issued."))?,
    };
    let mut accounts: Vec<Value> = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for advertiser in world.config.advertisers.iter().filter(|advertiser| {
        advertiser.amc_instance_id.is_some()
            && can_reach(&caller, advertiser)
            && call.region.is_none_or(|region| region == advertiser.region)
    }) {
        if seen.insert(advertiser.entity()) {
            accounts.push(json!({
                "accountId": advertiser.entity(),
                "accountName": advertiser.name,
                "marketplaceId": marketplace_id(&advertiser.country_code)
            }));
        }
    }
    let page: Vec<Value> = accounts
        .iter()
        .skip(start)
        .take(AMC_ACCOUNTS_PAGE)
        .cloned()
        .collect();
    let mut answer = json!({ "amcAccounts": page });
    if start + AMC_ACCOUNTS_PAGE < accounts.len() {
        answer["nextToken"] = json!((start + AMC_ACCOUNTS_PAGE).to_string());
    }
    Ok(Reply::json(StatusCode::OK, answer))
}

/// `GET /amc/instances?limit=&nextToken=` with the AMC headers (`AdvertiserId`: the AMC
/// account; `MarketplaceId`): `{instances[{instanceId, instanceName, instanceType,
/// creationStatus, …}], nextToken?}`. Emulator choice: the list's field name and the
/// `limit` range (1–100) are not in the doc's notes.
pub(super) fn list_amc_instances(world: &mut World, call: &Call<'_>) -> Result<Reply, Reply> {
    let (caller, entity) = amc_caller(world, call)?;
    let query = query_pairs(call, &["limit", "nextToken"])?;
    let value = |name: &str| query_value(&query, name);
    let limit = match value("limit") {
        None => 100,
        Some(text) => match text.parse::<usize>() {
            Ok(n @ 1..=100) => n,
            _ => {
                return Err(Reply::bad_request(
                    "limit must be an integer between 1 and 100.",
                ));
            }
        },
    };
    let start = match value("nextToken") {
        None => 0,
        Some(token) => token
            .parse::<usize>()
            .map_err(|_| Reply::bad_request("nextToken is not a token this API issued."))?,
    };
    let owned: Vec<&Advertiser> = world
        .config
        .advertisers
        .iter()
        .filter(|advertiser| advertiser.entity() == entity && can_reach(&caller, advertiser))
        .collect();
    if owned.is_empty() {
        return Err(Reply::forbidden(
            "The access token's grant does not include this AMC account.",
        ));
    }
    if let Some(region) = call.region
        && owned.iter().all(|advertiser| advertiser.region != region)
    {
        return Err(Reply::forbidden(
            "This AMC account lives in another region; call that region's host.",
        ));
    }
    let instances: Vec<Value> = owned
        .iter()
        .filter_map(|advertiser| {
            let id = advertiser.amc_instance_id.as_ref()?;
            // Every field `Instance` requires (AMCAdministration_prod_3p.json); the AWS
            // ids and bucket are placeholders.
            Some(json!({
                "instanceId": id,
                "instanceName": id,
                "instanceType": "STANDARD",
                "customerCanonicalName": advertiser.name,
                "creationStatus": "COMPLETED",
                "creationDatetime": "2026-01-01T00:00:00Z",
                "apiEndpoint": format!("https://{id}.amc.emulated"),
                "awsAccountId": "000000000000",
                "dataUploadAwsAccountId": "000000000000",
                "s3BucketName": format!("amc-{id}"),
                "s3BucketRegion": "us-east-1",
                "entities": ["NA"],
                "advertiserTypes": ["DISPLAY"]
            }))
        })
        .collect();
    let page: Vec<Value> = instances.iter().skip(start).take(limit).cloned().collect();
    let mut answer = json!({ "instances": page });
    if start + limit < instances.len() {
        answer["nextToken"] = json!((start + limit).to_string());
    }
    Ok(Reply::json(StatusCode::OK, answer))
}

/// `{ "include": ["…", …] }` filters of the account query.
fn string_filter(body: &Map<String, Value>, field: &str) -> Result<Option<Vec<String>>, Reply> {
    let Some(filter) = body.get(field) else {
        return Ok(None);
    };
    let include = filter.get("include").and_then(Value::as_array);
    match include {
        Some(items) if (1..=100).contains(&items.len()) && items.iter().all(Value::is_string) => {
            Ok(Some(
                items
                    .iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect(),
            ))
        }
        _ => Err(Reply::bad_request(format!(
            "{field}.include must hold 1 to 100 strings."
        ))),
    }
}

/// The global advertiser-account id the emulator shows for an advertiser.
fn account_key(advertiser: &Advertiser) -> String {
    let suffix: String = advertiser
        .account_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    format!("amzn1.ads-account.g.{suffix}")
}
