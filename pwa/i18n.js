/* The app's words in Chinese (default) and English. FS.t('key', {name: value}) fills {name} placeholders. */
(function (FS) {
  'use strict';

  const WORDS = {
    app_name: ['现场服务', 'Field Service'],
    loading: ['加载中…', 'Loading…'],
    login: ['登录', 'Log in'],
    logout: ['退出登录', 'Log out'],
    username: ['用户名', 'Username'],
    password: ['密码', 'Password'],
    login_needs_network: ['首次登录需要联网。', 'The first log-in needs a connection.'],
    login_failed: ['登录失败：{message}', 'Log-in failed: {message}'],
    session_expired: ['登录已过期，请联网后重新登录。未同步的记录会保留。', 'Your session expired: log in again when online. Unsent work is kept.'],
    online: ['在线', 'Online'],
    offline: ['离线：记录会保存在手机上，联网后自动同步', 'Offline: your work is saved on the phone and syncs when back online'],
    pending: ['待同步 {n}', '{n} pending'],
    rejected_n: ['被拒绝 {n}', '{n} refused'],
    synced_at: ['上次同步 {time}', 'Last sync {time}'],
    never_synced: ['尚未同步', 'Not synced yet'],
    sync_now: ['立即同步', 'Sync now'],
    syncing: ['同步中…', 'Syncing…'],
    sync_error: ['同步出错：{message}', 'Sync error: {message}'],
    jobs: ['我的工单', 'My jobs'],
    today: ['今天', 'Today'],
    upcoming: ['即将到期', 'Upcoming'],
    done: ['已完成', 'Done'],
    no_jobs: ['暂无工单。', 'No jobs.'],
    due: ['要求完成 {time}', 'Due {time}'],
    priority: ['优先级 {n}', 'Priority {n}'],
    customer: ['客户', 'Customer'],
    address: ['地址', 'Address'],
    open_map: ['打开地图', 'Open map'],
    call: ['拨打', 'Call'],
    equipment: ['设备', 'Equipment'],
    serial: ['序列号', 'Serial'],
    warranty_until: ['保修至 {date}', 'Warranty until {date}'],
    history: ['维修历史', 'History'],
    no_history: ['此设备没有以往记录。', 'No earlier jobs on this equipment.'],
    problem: ['问题', 'Problem'],
    knowledge: ['知识库建议', 'Knowledge base suggestions'],
    timeline: ['进度', 'Timeline'],
    accept: ['接单', 'Accept'],
    depart: ['出发', 'Set off'],
    arrive: ['到达现场', 'Arrive on site'],
    record_visit: ['填写服务记录', 'Record the visit'],
    visit: ['服务记录', 'Visit'],
    create: ['受理', 'Logged'],
    assign: ['分配', 'Assigned'],
    claim: ['认领', 'Claimed'],
    urge: ['催单', 'Urged'],
    hand_back: ['退回工单', 'Hand back'],
    note: ['备注', 'Note'],
    attach_photo: ['照片', 'Photo'],
    photo: ['照片', 'Photo'],
    add_note: ['添加备注', 'Add note'],
    reason: ['原因', 'Reason'],
    claim_pool: ['可认领工单', 'Claim pool'],
    claim_this: ['认领', 'Claim'],
    claim_waiting: ['已认领，待同步', 'Claim waiting to sync'],
    pool_as_of: ['列表更新于 {time}', 'List as of {time}'],
    pool_never: ['联网后显示可认领的工单。', 'The pool shows once the phone is online.'],
    pool_empty: ['暂无可认领的工单。', 'Nothing to claim.'],
    refresh: ['刷新', 'Refresh'],
    hand_back_reason: ['退回原因', 'Why you hand the job back'],
    confirm_hand_back: ['确定退回此工单？工单将回到待分配。', 'Hand this job back? It goes back to the dispatcher.'],
    urge_note: ['客户催单说明（最多300字）', 'What the customer said when chasing (300 characters at most)'],
    record_urge: ['记录客户催单', 'Record a customer chase'],
    too_long: ['最多 {n} 字。', '{n} characters at most.'],
    accepted: ['已接单', 'Accepted'],
    departed: ['已出发', 'On the way'],
    arrived: ['已到达', 'On site'],
    waiting_sync: ['（待同步）', '(waiting to sync)'],
    removed_job: ['此工单已不再分配给你。你的记录仍保留在手机上。', 'This job is no longer yours. Your entries are kept on the phone.'],
    refused: ['服务器拒绝了此操作', 'The server refused this change'],
    retry: ['重试', 'Retry'],
    discard: ['放弃', 'Discard'],
    confirm_discard: ['确定放弃这条记录？', 'Discard this entry for good?'],
    arrived_at: ['到达时间', 'Arrived at'],
    finished_at: ['完成时间', 'Finished at'],
    labour_hours: ['工时（小时）', 'Labour hours'],
    fault: ['故障', 'Fault'],
    fault_from_kb: ['从知识库选择（可选）', 'Pick from the knowledge base (optional)'],
    fault_free: ['故障现象', 'Symptom found'],
    cause: ['原因', 'Cause'],
    solution: ['处理措施', 'Repair done'],
    parts: ['使用备件（车载库存）', 'Parts used (van stock)'],
    add_part: ['添加备件', 'Add part'],
    no_van_stock: ['车载库存为空。', 'The van stock is empty.'],
    qty: ['数量', 'Qty'],
    old_serial: ['旧件序列号', 'Old serial'],
    new_serial: ['新件序列号', 'New serial'],
    costs: ['其他费用', 'Other costs'],
    add_cost: ['添加费用', 'Add cost'],
    cost_travel: ['交通费', 'Travel'],
    cost_fee: ['服务费', 'Service fee'],
    cost_other: ['其他', 'Other'],
    amount: ['金额', 'Amount'],
    remove: ['删除', 'Remove'],
    photos: ['照片', 'Photos'],
    add_photo: ['拍照/选择照片', 'Take or pick a photo'],
    signature: ['客户签名', "Customer's signature"],
    clear: ['清除', 'Clear'],
    outcome: ['结果', 'Outcome'],
    outcome_resolved: ['已解决', 'Solved'],
    outcome_unresolved: ['未解决', 'Not solved'],
    save_visit: ['提交服务记录', 'Submit the visit'],
    draft_saved: ['草稿已自动保存 {time}', 'Draft saved {time}'],
    visit_queued: ['服务记录已保存，将在联网时同步。', 'The visit is saved and will sync when online.'],
    required: ['必填', 'Required'],
    signature_required: ['请客户签名。', 'The customer must sign.'],
    back: ['返回', 'Back'],
    status_assigned: ['已分配', 'Assigned'],
    status_resolved: ['已处理', 'Resolved'],
    status_awaiting_assignment: ['等待分配', 'Awaiting assignment'],
    status_locked: ['锁定', 'Locked'],
    status_suspended: ['挂起', 'Suspended'],
    status_revisited: ['已回访', 'Revisited'],
    status_cancelled: ['已取消', 'Cancelled'],
  };

  let lang = 'zh';
  try {
    lang = localStorage.getItem('fs-lang') || 'zh';
  } catch (err) {
    // No localStorage (the service worker): Chinese.
  }

  function t(key, params) {
    const pair = WORDS[key];
    let text = pair ? pair[lang === 'en' ? 1 : 0] : key;
    for (const [name, value] of Object.entries(params || {})) text = text.split('{' + name + '}').join(String(value));
    return text;
  }

  function setLang(code) {
    lang = code === 'en' ? 'en' : 'zh';
    localStorage.setItem('fs-lang', lang);
    document.documentElement.lang = lang === 'en' ? 'en' : 'zh-CN';
  }

  FS.i18n = { t, setLang, get lang() { return lang; }, WORDS };
  FS.t = t;
})(self.FS = self.FS || {});
