-- Demo raw data, generated set-based in DuckDB. Every random draw is a hash of (key, salt, seed), so the
-- same seed and people count give identical tables. Each gen_<table> keeps the true person `p` beside the
-- raw columns; the loader strips it and writes it to ground_truth.record_people instead.

create or replace macro u(k, salt) as (hash(k, salt, getvariable('cdp_seed')) % 1000000007)::double / 1000000007;
create or replace macro u2(a, b, salt) as (hash(a, b, salt, getvariable('cdp_seed')) % 1000000007)::double / 1000000007;
create or replace macro u3(a, b, c, salt) as (hash(a, b, c, salt, getvariable('cdp_seed')) % 1000000007)::double / 1000000007;
create or replace macro pick(arr, r) as arr[1 + floor(r * len(arr))::integer];
-- Power-law pick: the first values of the list are drawn far more often than the last.
create or replace macro pick_skewed(arr, r) as arr[1 + floor(pow(r, 3) * len(arr))::integer];
create or replace macro hex_id(k, salt) as md5(concat(getvariable('cdp_seed'), ':', salt, ':', k));
create or replace macro uuid_text(h) as concat_ws('-', h[1:8], h[9:12], h[13:16], h[17:20], h[21:32]);
-- cdp_end (set by the loader) is the latest event time: a fixed instant for reproducible tables, or the run's
-- time for a demo whose sources are fresh. Every other time is relative to it, so only the dates move.
create or replace macro clamp_ts(t) as least(t, getvariable('cdp_end'));
create or replace macro plus_seconds(t, s) as clamp_ts(t + to_seconds(floor(s)::bigint));
-- About 3% of events arrive two to ten days late; none after cdp_received_by (the run's time for a demo dated
-- now, so no row is loaded in the future; unbounded otherwise).
create or replace macro received(t, r) as least(
    t + to_seconds(floor(case when r < 0.03 then 172800 + r * 28800000 else 5 + r * 600 end)::bigint),
    getvariable('cdp_received_by')
);
create or replace macro junk_email(r) as pick_skewed(['test@test.com', 'noreply@example.com', 'no-reply@shop.example.com', 'none@none.com', 'a@a.com', 'email@email.com', ' ', 'N/A'], r);
create or replace macro junk_phone(r) as pick_skewed(['0000000000', '000-000-0000', '1111111111', '123-456-7890', '+1 000 000 0000', '9999999999', 'n/a'], r);
create or replace macro junk_id(r) as pick_skewed(['-1', 'null', 'undefined', 'anonymousId', '0', 'none', 'anonymous_id'], r);
create or replace macro mess_email(e, r) as
    case
        when r < 0.12 then upper(e)
        when r < 0.24 then upper(e[1:1]) || e[2:]
        when r < 0.32 then '  ' || e
        when r < 0.38 then e || ' '
        when r < 0.41 then ' ' || upper(e[1:1]) || e[2:] || '  '
        else e
    end;
-- Gmail ignores dots and +tags in the local part: the same inbox written three ways.
create or replace macro gmail_variant(e, r) as
    case
        when e like '%@gmail.com' and r < 0.10 then replace(split_part(e, '@', 1), '.', '') || '@gmail.com'
        when e like '%@gmail.com' and r < 0.18 then split_part(e, '@', 1) || '+' || pick(['shop', 'news', 'promo'], r * 5 % 1) || '@gmail.com'
        else e
    end;
-- A typing mistake in a name or street (offline records typed by staff): a letter dropped, two swapped, one
-- replaced or doubled, never the first letter.
create or replace macro typo_at(s, i, kind) as
    case kind
        when 0 then s[1:i - 1] || s[i + 1:]
        when 1 then s[1:i - 1] || s[i + 1:i + 1] || s[i:i] || s[i + 2:]
        when 2 then s[1:i - 1] || chr(97 + (ascii(lower(s[i:i])) - 96) % 26) || s[i + 1:]
        else s[1:i] || s[i:]
    end;
create or replace macro typo(s, r) as
    case when s is null or length(s) < 3 then s else typo_at(s, 2 + floor((r * 7 % 1) * (length(s) - 2))::integer, floor(r * 4)::integer) end;
-- A date of birth as typed: day and month swapped (when both can be months), a day or a year off by one.
create or replace macro dob_error(d, r) as
    case
        when r < 0.4 and day(d) <= 12 and day(d) <> month(d) then make_date(year(d), day(d), month(d))
        when r < 0.7 then d + interval 1 day
        else d - interval 1 year
    end;
create or replace macro format_phone(country, cc, n, r) as
    case
        when country = 'US' then
            case floor(r * 8)::integer
                when 0 then '(' || n[1:3] || ') ' || n[4:6] || '-' || n[7:10]
                when 1 then n[1:3] || '.' || n[4:6] || '.' || n[7:10]
                when 2 then n[1:3] || '-' || n[4:6] || '-' || n[7:10]
                when 3 then '+1 ' || n[1:3] || ' ' || n[4:6] || ' ' || n[7:10]
                when 4 then '1-' || n[1:3] || '-' || n[4:6] || '-' || n[7:10]
                when 5 then '001-' || n[1:3] || '-' || n[4:6] || '-' || n[7:10]
                when 6 then n
                else '+1' || n
            end
        else
            case floor(r * 3)::integer
                when 0 then '+' || cc || ' ' || n[1:4] || ' ' || n[5:]
                when 1 then '00' || cc || n
                else '+' || cc || n
            end
    end;

create or replace table people as
with drawn as (
    select
        p,
        u(p, 'country') as r_country,
        u(p, 'household') as r_household,
        p > 1 and u(p - 1, 'household') >= 0.25 as previous_is_free,
        u(p, 'known') < 0.88 as is_known,
        u(p, 'big') < 0.0005 as is_big,
        u(p, 'account') < 0.7 as has_account,
        u(p, 'loyalty') < 0.35 as has_loyalty,
        u(p, 'emails') as r_emails,
        u(p, 'phones') as r_phones
    from range(1, getvariable('cdp_people') + 1) as t(p)
)
select
    p,
    pick(['James', 'Mary', 'Robert', 'Patricia', 'John', 'Jennifer', 'Michael', 'Linda', 'David', 'Elizabeth',
          'William', 'Barbara', 'Richard', 'Susan', 'Joseph', 'Jessica', 'Thomas', 'Sarah', 'Carlos', 'Karen',
          'Daniel', 'Lisa', 'Matthew', 'Nancy', 'Anthony', 'Sandra', 'Mark', 'Ashley', 'Wei', 'Emily', 'Ahmed',
          'Donna', 'Oliver', 'Michelle', 'Lucas', 'Sofia', 'Noah', 'Amelia', 'Liam', 'Chloe'], u(p, 'first')) as first_name,
    pick(['Smith', 'Johnson', 'Williams', 'Brown', 'Jones', 'Garcia', 'Miller', 'Davis', 'Rodriguez', 'Martinez',
          'Hernandez', 'Lopez', 'Gonzalez', 'Wilson', 'Anderson', 'Thomas', 'Taylor', 'Moore', 'Jackson', 'Martin',
          'Lee', 'Perez', 'Thompson', 'White', 'Harris', 'Sanchez', 'Clark', 'Ramirez', 'Lewis', 'Robinson',
          'Walker', 'Young', 'Allen', 'King', 'Wright', 'Scott', 'Nguyen', 'Hill', 'Flores', 'Green'], u(p, 'last')) as last_name,
    case when r_country < 0.90 then 'US' when r_country < 0.94 then 'GB' when r_country < 0.97 then 'DE' else 'FR' end as country,
    -- A quarter of people live with the person before them: shared street address, sometimes a shared tablet.
    case when previous_is_free and r_household < 0.25 then p - 1 else p end as household_key,
    is_known,
    is_big,
    has_account,
    has_loyalty,
    1 + (r_emails > 0.55)::integer + (r_emails > 0.88)::integer as n_emails,
    (r_phones > 0.08)::integer + (r_phones > 0.72)::integer + (r_phones > 0.95)::integer as n_phones,
    case
        when is_big then 25 + floor(u(p, 'anon') * 30)::integer
        else least(8, 1 + floor(-ln(1 - u(p, 'anon') * 0.999) * 1.2)::integer)
    end as n_anon,
    case
        when not has_account then 0
        when is_big then 10 + floor(u(p, 'devices') * 20)::integer
        else (u(p, 'devices') < 0.35)::integer + (u(p, 'devices') < 0.08)::integer
    end as n_devices,
    case
        when not is_known then 0
        when is_big then 40 + floor(u(p, 'online') * 40)::integer
        else least(15, floor(-ln(1 - u(p, 'online') * 0.999) * 1.6)::integer)
    end as n_online,
    case
        when (r_phones > 0.08 or has_loyalty) then least(8, floor(-ln(1 - u(p, 'pos') * 0.999) * 0.8)::integer)
        else 0
    end as n_pos,
    case
        when is_known and u(p, 'crm') < 0.85 then 1 + (u(p, 'crm_dup') < 0.25)::integer + (u(p, 'crm_dup') < 0.08)::integer
        else 0
    end as n_crm,
    case when is_known and u(p, 'tickets') < 0.18 then 1 + (u(p, 'tickets_2') < 0.3)::integer else 0 end as n_tickets,
    case when is_known and u(p, 'subscribed') < 0.75 then 3 + floor(u(p, 'sends') * 8)::integer else 0 end as n_sends,
    u(p, 'open_rate') * 0.6 as open_rate,
    getvariable('cdp_end') - interval 729 day - interval 23 hour + to_seconds(floor(u(p, 'first_seen') * 600 * 86400)::bigint) as first_seen_at,
    date '1945-01-01' + floor(u(p, 'dob') * 22000)::integer as date_of_birth
from drawn;

-- Offline records (cdp_offline_share of known people, one each: a CRM contact typed by staff, a store receipt
-- or a support call): no email or phone, only a name, a date of birth and an address, with typos and gaps.
create or replace table offline_people as
select
    p,
    pick(['crm', 'pos', 'support'], u(p, 'off_kind')) as kind,
    country,
    household_key,
    first_seen_at,
    case
        when u(p, 'off_first') < 0.05 then null
        when u(p, 'off_first') < 0.20 then typo(first_name, u(p, 'off_first_t'))
        when u(p, 'off_first') < 0.26 then upper(first_name)
        else first_name
    end as first_name,
    case
        when u(p, 'off_last') < 0.02 then null
        when u(p, 'off_last') < 0.14 then typo(last_name, u(p, 'off_last_t'))
        when u(p, 'off_last') < 0.22 then upper(last_name)
        else last_name
    end as last_name,
    case
        when u(p, 'off_dob') < 0.12 then null
        when u(p, 'off_dob') < 0.22 then dob_error(date_of_birth, u(p, 'off_dob_e'))
        else date_of_birth
    end as date_of_birth,
    case
        when u(p, 'off_street') < 0.15 then null
        when u(p, 'off_street') < 0.27 then typo(street, u(p, 'off_street_t'))
        else street
    end as street,
    city,
    case
        when u(p, 'off_zip') < 0.10 then null
        when u(p, 'off_zip') < 0.15 then typo(postal_code, u(p, 'off_zip_t'))
        else postal_code
    end as postal_code,
    plus_seconds(first_seen_at, u(p, 'off_t') * 300 * 86400) as seen_at
from (
    select
        *,
        -- The household's current address, as its CRM contacts have it.
        (10 + floor(u(household_key, 'house_number') * 9000)::integer)::varchar || ' '
            || pick(['Main St', 'Oak Ave', 'Pine Rd', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Park Ave', 'Lake Rd', 'Hill St', 'River Rd'],
                    u(household_key, 'street')) as street,
        pick(['Springfield', 'Riverside', 'Franklin', 'Greenville', 'Bristol', 'Fairview', 'Salem', 'Madison'], u(household_key, 'city')) as city,
        lpad((floor(u(household_key, 'zip') * 99999))::integer::varchar, 5, '0') as postal_code
    from people
) as known
where is_known and u(p, 'offline') < getvariable('cdp_offline_share');

create or replace table person_emails as
select
    people.p,
    k,
    case k
        when 1 then lower(first_name) || '.' || lower(last_name) || p
            || '@' || pick(['gmail.com', 'gmail.com', 'gmail.com', 'yahoo.com', 'outlook.com', 'icloud.com', 'hotmail.com', 'proton.me'], u(p, 'domain'))
        when 2 then lower(first_name[1:1]) || lower(last_name) || p
            || '@' || pick(['acme.com', 'globex.com', 'initech.io', 'umbrella.co', 'hooli.com'], u(p, 'work_domain'))
        else lower(last_name) || '.' || lower(first_name) || p || '@gmail.com'
    end as email
from people, unnest(range(1, n_emails + 1)) as ks(k);

create or replace table person_phones as
select
    p,
    k,
    country,
    case country when 'US' then '1' when 'GB' then '44' when 'DE' then '49' else '33' end as calling_code,
    case country
        when 'US' then (2000000000 + ((p * 4 + k) * 7919) % 8000000000)::varchar
        when 'GB' then '7' || lpad((((p * 4 + k) * 7919) % 1000000000)::varchar, 9, '0')
        when 'DE' then '15' || lpad((((p * 4 + k) * 7919) % 1000000000)::varchar, 9, '0')
        else '6' || lpad((((p * 4 + k) * 7919) % 100000000)::varchar, 8, '0')
    end as national_number
from people, unnest(range(1, n_phones + 1)) as ks(k);

create or replace table anons as
select
    p,
    j,
    uuid_text(hex_id(p || '.' || j, 'anon')) as anonymous_id,
    plus_seconds(first_seen_at, j * (case when n_anon > 8 then 3 else 35 end) * 86400 + u2(p, j, 'anon_t') * 20 * 86400) as seen_at
from people, unnest(range(n_anon)) as js(j);

create or replace table gen_identifies as
with primary_email as (select p, email from person_emails where k = 1),
primary_phone as (select p, calling_code, national_number from person_phones where k = 1),
signups as (
    -- The first anonymous id of a known person is identified at sign-up with email, maybe phone and user id.
    select
        people.p,
        'idf_' || people.p || '_0_s' as id,
        anons.anonymous_id,
        case when has_account then 'usr_' || people.p end as user_id,
        case
            when u(people.p, 'idf_junk') < 0.03 then junk_email(u(people.p, 'idf_junk_v'))
            else mess_email(gmail_variant(primary_email.email, u(people.p, 'idf_gm')), u(people.p, 'idf_mess'))
        end as email,
        case when primary_phone.p is not null and u(people.p, 'idf_phone') < 0.4
            then format_phone(people.country, calling_code, national_number, u(people.p, 'idf_pf')) end as phone,
        first_name,
        last_name,
        anons.seen_at as ts
    from people
    inner join anons on anons.p = people.p and anons.j = 0
    inner join primary_email on primary_email.p = people.p
    left join primary_phone on primary_phone.p = people.p
    where is_known
),
logins as (
    -- Later anonymous ids are sometimes tied to the account by a login; most chains are only joined by cookie syncs.
    select
        people.p,
        'idf_' || people.p || '_' || j || '_l' as id,
        anonymous_id,
        'usr_' || people.p as user_id,
        null as email,
        null as phone,
        null as first_name,
        null as last_name,
        seen_at + interval 10 minute as ts
    from people
    inner join anons using (p)
    where has_account and is_known and j > 0 and u2(people.p, j, 'login') < (case when n_anon > 3 then 0.12 else 0.3 end)
),
junk_anonymous as (
    -- Broken tracking snippets send placeholder anonymous ids next to a real user id.
    select
        p,
        'idf_' || p || '_j' as id,
        junk_id(u(p, 'idf_janon_v')) as anonymous_id,
        'usr_' || p as user_id,
        null as email,
        null as phone,
        null as first_name,
        null as last_name,
        plus_seconds(first_seen_at, u(p, 'idf_janon_t') * 200 * 86400) as ts
    from people
    where has_account and is_known and u(p, 'idf_janon') < 0.04
)
select
    p,
    id,
    anonymous_id,
    user_id,
    email,
    phone,
    first_name,
    last_name,
    '10.' || (hash(id) % 250) || '.' || (hash(id, 1) % 250) || '.' || (hash(id, 2) % 250) as context_ip,
    pick(['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15',
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36',
          'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
          'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 Chrome/126.0 Mobile Safari/537.36'], u(id, 'ua')) as context_user_agent,
    ts as "timestamp",
    received(ts, u(id, 'late')) as received_at
from (select * from signups union all select * from logins union all select * from junk_anonymous) as all_identifies;

create or replace table gen_cookie_syncs as
with links as (
    -- Rotating first-party ids: one partner cookie seen with the previous and the next anonymous id.
    select anons.p, anons.j, 'dmp_' || hex_id(anons.p || '.' || anons.j, 'cookie')[1:20] as partner_cookie_id, previous.anonymous_id as left_id, anons.anonymous_id as right_id, anons.seen_at
    from anons
    inner join anons as previous on previous.p = anons.p and previous.j = anons.j - 1
),
pairs as (
    select p, 'cks_' || p || '_' || j || '_a' as sync_id, partner_cookie_id, left_id as anonymous_id, seen_at as synced_at from links
    union all
    select p, 'cks_' || p || '_' || j || '_b', partner_cookie_id, right_id, plus_seconds(seen_at, 3600) from links
),
singles as (
    select p, 'cks_' || p || '_0_s' as sync_id, 'dmp_' || hex_id(p, 'cookie_single')[1:20] as partner_cookie_id, anonymous_id, plus_seconds(seen_at, 600) as synced_at
    from anons where j = 0 and u(p, 'cks_single') < 0.5
),
junk as (
    -- Partner tags that failed to read their cookie: one placeholder value shared by thousands of strangers.
    select p, 'cks_' || p || '_' || j || '_j', pick_skewed(['0', 'undefined', '00000000-0000-0000-0000-000000000000', 'null', 'OPT_OUT'], u2(p, j, 'cks_jv')), anonymous_id, plus_seconds(seen_at, 60)
    from anons where u2(p, j, 'cks_junk') < 0.03
)
select p, sync_id, pick(['lotame', 'bluekai', 'liveramp'], u(sync_id, 'partner')) as partner, partner_cookie_id, anonymous_id, synced_at
from (select * from pairs union all select * from singles union all select * from junk) as all_syncs;

create or replace table gen_pages as
select
    anons.p,
    'pag_' || anons.p || '_' || j || '_' || n as id,
    anonymous_id,
    case when has_account and is_known and u3(anons.p, j, n, 'pag_login') < 0.2 then 'usr_' || anons.p end as user_id,
    'https://shop.example.com' || path as url,
    path,
    pick(['https://www.google.com/', 'https://www.facebook.com/', '', 'https://news.example.org/', 'https://shop.example.com/'], u3(anons.p, j, n, 'pag_ref')) as referrer,
    pick(['Home', 'Products', 'Cart', 'Checkout', 'Blog'], u3(anons.p, j, n, 'pag_title')) as title,
    pick(['Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Safari/605.1.15',
          'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36'], u(anons.p, 'pag_ua')) as context_user_agent,
    plus_seconds(seen_at, n * 97) as "timestamp",
    received(plus_seconds(seen_at, n * 97), u3(anons.p, j, n, 'late')) as received_at
from anons
inner join people using (p)
cross join lateral (select unnest(range(1 + floor(u2(anons.p, j, 'pag_n') * 4)::integer)) as n) as ns
cross join lateral (select pick(['/', '/products/shoes', '/products/shirts', '/products/bags', '/cart', '/checkout', '/blog/style-guide'], u3(anons.p, j, n, 'pag_path')) as path) as paths;

create or replace table gen_app_devices as
select
    p,
    d,
    u2(p, d, 'platform') < 0.55 as is_ios,
    case when u2(p, d, 'platform') < 0.55 then upper(uuid_text(hex_id(p || '.' || d, 'device'))) else uuid_text(hex_id(p || '.' || d, 'device')) end as device_id
from people, unnest(range(n_devices)) as ds(d);

create or replace table gen_app_events as
with own_devices as (
    select
        devices.p,
        'app_' || devices.p || '_' || d || '_' || e as event_id,
        device_id,
        is_ios,
        case
            when e = 0 then 'usr_' || devices.p
            when u3(devices.p, d, e, 'app_junk') < 0.03 then junk_id(u3(devices.p, d, e, 'app_junk_v'))
            when u3(devices.p, d, e, 'app_login') < 0.5 then 'usr_' || devices.p
        end as user_id,
        pick(['app_open', 'screen_view', 'product_view', 'add_to_cart', 'purchase'], u3(devices.p, d, e, 'app_name')) as event_name,
        plus_seconds(first_seen_at, u2(devices.p, d, 'app_t') * 400 * 86400 + e * 3600) as occurred_at
    from gen_app_devices as devices
    inner join people using (p)
    cross join lateral (select unnest(range(2 + floor(u2(devices.p, d, 'app_n') * 5)::integer)) as e) as es
),
shared_devices as (
    -- A household member logs into their own account on the other person's tablet.
    select
        people.p,
        'app_' || people.p || '_shared' as event_id,
        devices.device_id,
        devices.is_ios,
        'usr_' || people.p as user_id,
        'app_open' as event_name,
        plus_seconds(people.first_seen_at, u(people.p, 'app_shared_t') * 300 * 86400) as occurred_at
    from people
    inner join gen_app_devices as devices on devices.p = people.household_key and devices.d = 0
    where people.household_key <> people.p and people.has_account and u(people.p, 'app_shared') < 0.15
)
select
    p,
    event_id,
    device_id,
    case when is_ios then 'idfa' else 'gaid' end as device_type,
    user_id,
    case when is_ios then 'ios' else 'android' end as platform,
    event_name,
    pick(['5.2.0', '5.3.1', '6.0.0'], u(event_id, 'app_version')) as app_version,
    occurred_at,
    received(occurred_at, u(event_id, 'late')) as received_at
from (select * from own_devices union all select * from shared_devices) as all_events;

create or replace table gen_orders_base as
with online as (
    select
        people.p,
        'ord_' || people.p || '_w' || o as order_id,
        'online' as channel,
        case when has_account then 'usr_' || people.p end as user_id,
        mess_email(gmail_variant(emails.email, u2(people.p, o, 'ord_gm')), u2(people.p, o, 'ord_mess')) as email,
        null as phone,
        null as loyalty_card_id,
        'web' as store_id,
        plus_seconds(first_seen_at, u2(people.p, o, 'ord_t') * 700 * 86400) as ordered_at
    from people
    cross join lateral (select unnest(range(n_online)) as o) as os
    inner join person_emails as emails
        on emails.p = people.p and emails.k = (case when n_emails > 1 and u2(people.p, o, 'ord_email') < 0.2 then 2 else 1 end)
),
in_store as (
    select
        people.p,
        'ord_' || people.p || '_s' || o as order_id,
        'pos' as channel,
        null as user_id,
        null as email,
        case
            when phones.p is null then null
            when has_loyalty and u2(people.p, o, 'pos_phone') < 0.5 then null
            when u2(people.p, o, 'pos_junk') < 0.04 then junk_phone(u2(people.p, o, 'pos_junk_v'))
            else format_phone(people.country, phones.calling_code, phones.national_number, u2(people.p, o, 'pos_pf'))
        end as phone,
        case when has_loyalty then 'LC' || lpad(people.p::varchar, 9, '0') end as loyalty_card_id,
        'store_' || lpad((1 + floor(u(people.household_key, 'store') * 40))::varchar, 3, '0') as store_id,
        plus_seconds(first_seen_at, u2(people.p, o, 'pos_t') * 700 * 86400) as ordered_at
    from people
    cross join lateral (select unnest(range(n_pos)) as o) as os
    left join person_phones as phones on phones.p = people.p and phones.k = 1
)
select * from online
union all
select * from in_store;

insert into gen_orders_base by name
select
    p,
    'ord_' || p || '_o' as order_id,
    'pos' as channel,
    'store_' || lpad((1 + floor(u(household_key, 'store') * 40))::varchar, 3, '0') as store_id,
    seen_at as ordered_at
from offline_people
where kind = 'pos';

create or replace table gen_order_items as
select
    orders.p,
    order_id || '_' || i as order_item_id,
    order_id,
    'prd_' || (1 + floor(u2(order_id, i, 'item_product') * 500)::integer) as product_id,
    pick(['shoes', 'shirts', 'bags', 'accessories', 'outerwear'], u2(order_id, i, 'item_category')) as product_category,
    1 + floor(u2(order_id, i, 'item_qty') * 3)::integer as quantity,
    round(5 + pow(u2(order_id, i, 'item_price'), 2) * 195, 2) as unit_price
from gen_orders_base as orders
cross join lateral (select unnest(range(1 + floor(u(order_id, 'item_n') * 3)::integer)) as i) as items;

create or replace table gen_orders as
select
    orders.p,
    orders.order_id,
    channel,
    user_id,
    email,
    phone,
    loyalty_card_id,
    store_id,
    case when u(orders.order_id, 'status') < 0.90 then 'completed' when u(orders.order_id, 'status') < 0.96 then 'returned' else 'cancelled' end as status,
    case people.country when 'US' then 'USD' when 'GB' then 'GBP' else 'EUR' end as currency,
    round(totals.total_amount, 2) as total_amount,
    ordered_at,
    received(ordered_at, u(orders.order_id, 'late')) as received_at,
    offline.first_name,
    offline.last_name,
    strftime(offline.date_of_birth, '%Y-%m-%d') as date_of_birth,
    offline.postal_code
from gen_orders_base as orders
inner join people using (p)
left join offline_people as offline on offline.kind = 'pos' and orders.order_id = 'ord_' || offline.p || '_o'
inner join (select order_id, sum(quantity * unit_price) as total_amount from gen_order_items group by order_id) as totals using (order_id);

create or replace table gen_tracks as
with browsing as (
    select
        anons.p,
        'trk_' || anons.p || '_' || j || '_' || n as id,
        anonymous_id,
        case when has_account and is_known and u3(anons.p, j, n, 'trk_login') < 0.2 then 'usr_' || anons.p end as user_id,
        event,
        'prd_' || (1 + floor(u3(anons.p, j, n, 'trk_product') * 500)::integer) as product_id,
        case when event in ('Product Added', 'Checkout Started') then 'cart_' || anons.p || '_' || j end as cart_id,
        null::double as revenue,
        plus_seconds(seen_at, n * 131 + 30) as ts
    from anons
    inner join people using (p)
    cross join lateral (select unnest(range(floor(u2(anons.p, j, 'trk_n') * 4)::integer)) as n) as ns
    cross join lateral (select pick(['Product Viewed', 'Product Viewed', 'Product Added', 'Checkout Started'], u3(anons.p, j, n, 'trk_event')) as event) as events
),
completions as (
    -- Web orders also fire Order Completed from the browser that placed them.
    select
        orders.p,
        'trk_' || orders.order_id as id,
        last_anon.anonymous_id,
        orders.user_id,
        'Order Completed' as event,
        null as product_id,
        null as cart_id,
        orders.total_amount as revenue,
        orders.ordered_at as ts
    from gen_orders as orders
    inner join people using (p)
    inner join anons as last_anon on last_anon.p = orders.p and last_anon.j = people.n_anon - 1
    where orders.channel = 'online'
)
select
    p,
    id,
    anonymous_id,
    user_id,
    -- As Segment and RudderStack load them: a snake_case slug in event, the name as sent in event_text.
    lower(replace(event, ' ', '_')) as event,
    event as event_text,
    product_id,
    cart_id,
    revenue,
    '10.' || (hash(id) % 250) || '.' || (hash(id, 1) % 250) || '.' || (hash(id, 2) % 250) as context_ip,
    'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36' as context_user_agent,
    ts as "timestamp",
    received(ts, u(id, 'late')) as received_at
from (select * from browsing union all select * from completions) as all_tracks;

create or replace table gen_crm_contacts as
with contacts as (
    select people.*, r, 'crm_' || people.p || '_' || r as contact_id
    from people, unnest(range(n_crm)) as rs(r)
)
select
    contacts.p,
    contact_id,
    case
        when u(contact_id, 'crm_junk') < 0.02 then junk_email(u(contact_id, 'crm_junk_v'))
        else mess_email(gmail_variant(emails.email, u(contact_id, 'crm_gm')), u(contact_id, 'crm_mess'))
    end as email,
    case
        when phones.p is null then null
        when u(contact_id, 'crm_phone_junk') < 0.02 then junk_phone(u(contact_id, 'crm_phone_junk_v'))
        else format_phone(contacts.country, phones.calling_code, phones.national_number, u(contact_id, 'crm_pf'))
    end as phone,
    case when r > 0 and u(contact_id, 'crm_case') < 0.3 then upper(first_name) else first_name end as first_name,
    case when r > 0 and u(contact_id, 'crm_case') < 0.3 then upper(last_name) else last_name end as last_name,
    -- The newest record carries the current address; older duplicates keep a stale one.
    (10 + floor(u(case when r = 0 then household_key else contacts.p * 100 + r end, 'house_number') * 9000)::integer)::varchar || ' '
        || pick(['Main St', 'Oak Ave', 'Pine Rd', 'Maple Dr', 'Cedar Ln', 'Elm St', 'Park Ave', 'Lake Rd', 'Hill St', 'River Rd'],
                u(case when r = 0 then household_key else contacts.p * 100 + r end, 'street')) as street,
    pick(['Springfield', 'Riverside', 'Franklin', 'Greenville', 'Bristol', 'Fairview', 'Salem', 'Madison'],
         u(case when r = 0 then household_key else contacts.p * 100 + r end, 'city')) as city,
    lpad((floor(u(case when r = 0 then household_key else contacts.p * 100 + r end, 'zip') * 99999))::integer::varchar, 5, '0') as postal_code,
    case when u(contact_id, 'crm_country') < 0.05 then '' when u(contact_id, 'crm_country') < 0.15 then lower(contacts.country) else contacts.country end as country,
    pick(['subscriber', 'lead', 'customer', 'customer'], u(contact_id, 'crm_stage')) as lifecycle_stage,
    plus_seconds(first_seen_at, (n_crm - 1 - r) * 45 * 86400 + u(contact_id, 'crm_t') * 86400) as created_at,
    plus_seconds(first_seen_at, (n_crm - 1 - r) * 45 * 86400 + u(contact_id, 'crm_t') * 86400 + u(contact_id, 'crm_u') * 90 * 86400) as updated_at,
    strftime(date_of_birth, '%Y-%m-%d') as date_of_birth
from contacts
inner join person_emails as emails on emails.p = contacts.p and emails.k = (r % contacts.n_emails) + 1
left join person_phones as phones on phones.p = contacts.p and phones.k = (r % greatest(contacts.n_phones, 1)) + 1;

insert into gen_crm_contacts by name
select
    p,
    'crm_' || p || '_o' as contact_id,
    first_name,
    last_name,
    street,
    city,
    postal_code,
    country,
    'lead' as lifecycle_stage,
    seen_at as created_at,
    seen_at as updated_at,
    strftime(date_of_birth, '%Y-%m-%d') as date_of_birth
from offline_people
where kind = 'crm';

create or replace table gen_email_events as
with sends as (
    select people.p, s, emails.email, open_rate,
        plus_seconds(first_seen_at, s * 14 * 86400 + u2(people.p, s, 'esp_t') * 86400) as sent_at,
        'cmp_' || lpad((floor(u2(people.p, s, 'esp_campaign') * 60))::integer::varchar, 3, '0') as campaign_id
    from people
    inner join person_emails as emails on emails.p = people.p and emails.k = 1
    cross join lateral (select unnest(range(n_sends)) as s) as ss
),
events as (
    select p, 'esp_' || p || '_' || s || '_send' as event_id, email, 'send' as event_type, campaign_id, null as url, sent_at as occurred_at from sends
    union all
    select p, 'esp_' || p || '_' || s || '_open', email, 'open', campaign_id, null, plus_seconds(sent_at, 3600 + u2(p, s, 'esp_open_t') * 86400) from sends
    where u2(p, s, 'esp_open') < open_rate
    union all
    select p, 'esp_' || p || '_' || s || '_click', email, 'click', campaign_id, 'https://shop.example.com/products/shoes', plus_seconds(sent_at, 7200 + u2(p, s, 'esp_open_t') * 86400) from sends
    where u2(p, s, 'esp_open') < open_rate * 0.3
    union all
    select p, 'esp_' || p || '_unsubscribe', email, 'unsubscribe', campaign_id, null, plus_seconds(sent_at, 5400) from sends
    inner join people using (p)
    where s = people.n_sends - 1 and u(p, 'esp_unsub') < 0.04
    union all
    select p, 'esp_' || p || '_bounce', email, 'bounce', campaign_id, null, plus_seconds(sent_at, 60) from sends
    where s = 0 and u(p, 'esp_bounce') < 0.015
)
select * from events;

create or replace table gen_support_tickets as
with tickets as (
    select people.*, t, 'tkt_' || people.p || '_' || t as ticket_id, pick(['email', 'phone', 'chat'], u2(people.p, t, 'tkt_channel')) as channel
    from people, unnest(range(n_tickets)) as ts(t)
)
select
    tickets.p,
    ticket_id,
    case when channel <> 'phone' or phones.p is null then mess_email(emails.email, u(ticket_id, 'tkt_mess')) end as email,
    case when channel = 'phone' and phones.p is not null then format_phone(tickets.country, phones.calling_code, phones.national_number, u(ticket_id, 'tkt_pf')) end as phone,
    case when channel = 'phone' and phones.p is null then 'email' else channel end as channel,
    pick(['Where is my order?', 'Return request', 'Wrong size', 'Payment failed', 'Account locked'], u(ticket_id, 'tkt_subject')) as subject,
    case when u(ticket_id, 'tkt_status') < 0.85 then 'solved' else 'open' end as status,
    plus_seconds(first_seen_at, u(ticket_id, 'tkt_t') * 650 * 86400) as created_at,
    case when u(ticket_id, 'tkt_status') < 0.85 then plus_seconds(first_seen_at, u(ticket_id, 'tkt_t') * 650 * 86400 + 3600 + u(ticket_id, 'tkt_solve') * 72 * 3600) end as solved_at,
    cast(null as varchar) as first_name,
    cast(null as varchar) as last_name,
    cast(null as varchar) as date_of_birth
from tickets
inner join person_emails as emails on emails.p = tickets.p and emails.k = 1
left join person_phones as phones on phones.p = tickets.p and phones.k = 1;

insert into gen_support_tickets by name
select
    p,
    'tkt_' || p || '_o' as ticket_id,
    'phone' as channel,
    pick(['Where is my order?', 'Return request', 'Wrong size', 'Payment failed', 'Account locked'], u(p, 'off_subject')) as subject,
    'solved' as status,
    seen_at as created_at,
    plus_seconds(seen_at, 1800) as solved_at,
    first_name,
    last_name,
    strftime(date_of_birth, '%Y-%m-%d') as date_of_birth
from offline_people
where kind = 'support';

create or replace table gen_consents as
with known as (
    select people.*, emails.email, phones.calling_code, phones.national_number
    from people
    inner join person_emails as emails on emails.p = people.p and emails.k = 1
    left join person_phones as phones on phones.p = people.p and phones.k = 1
    where is_known
),
records as (
    select p, 'cns_' || p || '_email_1' as consent_id, email, null as phone, 'email' as channel, 'granted' as status, 'signup_form' as source, plus_seconds(first_seen_at, 60) as recorded_at
    from known where u(p, 'cns_email') < 0.8
    union all
    select p, 'cns_' || p || '_email_2', email, null, 'email', 'revoked', 'preference_center', plus_seconds(first_seen_at, 60 + u(p, 'cns_email_rt') * 500 * 86400)
    from known where u(p, 'cns_email') < 0.8 and u(p, 'cns_email_revoke') < 0.15
    union all
    select p, 'cns_' || p || '_sms_1', email, format_phone(country, calling_code, national_number, u(p, 'cns_pf')), 'sms', 'granted', 'checkout', plus_seconds(first_seen_at, 120 + u(p, 'cns_sms_t') * 200 * 86400)
    from known where national_number is not null and u(p, 'cns_sms') < 0.4
    union all
    select p, 'cns_' || p || '_ads_1', email, null, 'ads', 'granted', 'cookie_banner', plus_seconds(first_seen_at, 30)
    from known where u(p, 'cns_ads') < 0.6
    union all
    select p, 'cns_' || p || '_ads_2', email, null, 'ads', 'revoked', 'cookie_banner', plus_seconds(first_seen_at, 30 + u(p, 'cns_ads_rt') * 400 * 86400)
    from known where u(p, 'cns_ads') < 0.6 and u(p, 'cns_ads_revoke') < 0.1
)
select records.p, consent_id, mess_email(email, u(consent_id, 'cns_mess')) as email, phone,
    case when people.has_account then 'usr_' || records.p end as user_id, channel, status, source, recorded_at
from records
inner join people using (p);

create or replace table gen_privacy_requests as
select
    people.p,
    'prq_' || people.p as request_id,
    emails.email,
    null as phone,
    case when has_account then 'usr_' || people.p end as user_id,
    case when u(people.p, 'prq') < 0.006 then 'deletion' else 'access' end as request_type,
    plus_seconds(getvariable('cdp_end') - interval 61 day - interval 23 hour, u(people.p, 'prq_t') * 60 * 86400) as requested_at
from people
inner join person_emails as emails on emails.p = people.p and emails.k = 1
where is_known and u(people.p, 'prq') < 0.01;
