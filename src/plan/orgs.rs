//! Organizations: create the Pages organizations Zendesk lacks and keep their details equal
//! to the Agency. Never renames, never deletes.

use crate::model::{ActualState, DesiredState};

use super::matching::Matching;
use super::{Change, Note, NoteKind};

pub(super) fn plan_orgs(
    desired: &DesiredState,
    actual: &ActualState,
    matching: &Matching<'_>,
    changes: &mut Vec<Change>,
    notes: &mut Vec<Note>,
) {
    for (key, org) in &desired.orgs {
        match matching.org_id(key).and_then(|id| actual.orgs.get(&id)) {
            // why: "Organization: name = Pages name, details = Agency"; matched by name only.
            None => changes.push(Change::CreateOrganization {
                key: key.clone(),
                name: org.name.clone(),
                details: org.details.clone(),
            }),
            // why: details = Agency; a missing details field reads as empty.
            Some(z) if z.details.as_deref().unwrap_or("") != org.details => {
                changes.push(Change::UpdateOrganization {
                    org_id: z.id,
                    details: org.details.clone(),
                })
            }
            Some(_) => {}
        }
    }
    // why: "Never delete a Zendesk organization. Organizations missing from Pages are
    // reported, not removed."
    notes.extend(matching.org.unmanaged_org_ids.iter().map(|&id| Note {
        kind: NoteKind::OrganizationNotInPages,
        zendesk_id: id,
    }));
}
