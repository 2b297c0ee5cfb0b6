package sources

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"

	"github.com/flightdeckhq/flightdeck/snapshot"
)

// BoardConfig reads a board's columns and the statuses in each.
func (c *JiraClient) BoardConfig(ctx context.Context, board int) (snapshot.JiraBoardConfig, error) {
	data, err := c.do(ctx, jiraRequest{method: http.MethodGet, path: fmt.Sprintf("/rest/agile/1.0/board/%d/configuration", board),
		hint: fmt.Sprintf("board %d does not exist or this account cannot see it: check [jira] board (the number in the board's URL)", board)})
	if err != nil {
		return snapshot.JiraBoardConfig{}, err
	}
	bc, err := DecodeJiraBoardConfig(data)
	if err != nil {
		return bc, fmt.Errorf("board %d configuration from %s: %w", board, c.BaseURL, err)
	}
	return bc, nil
}

// DecodeJiraBoardConfig decodes GET /rest/agile/1.0/board/{id}/configuration.
func DecodeJiraBoardConfig(data []byte) (snapshot.JiraBoardConfig, error) {
	var raw struct {
		ID           int    `json:"id"`
		Name         string `json:"name"`
		ColumnConfig *struct {
			Columns []struct {
				Name     string `json:"name"`
				Statuses []struct {
					ID string `json:"id"`
				} `json:"statuses"`
			} `json:"columns"`
		} `json:"columnConfig"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return snapshot.JiraBoardConfig{}, fmt.Errorf("unexpected answer (not a board configuration): %w", err)
	}
	if raw.ColumnConfig == nil {
		return snapshot.JiraBoardConfig{}, errors.New("unexpected answer: the board configuration has no columnConfig")
	}
	bc := snapshot.JiraBoardConfig{ID: raw.ID, Name: raw.Name}
	for _, col := range raw.ColumnConfig.Columns {
		jc := snapshot.JiraBoardColumn{Name: col.Name}
		for _, s := range col.Statuses {
			if s.ID != "" {
				jc.StatusIDs = append(jc.StatusIDs, s.ID)
			}
		}
		bc.Columns = append(bc.Columns, jc)
	}
	return bc, nil
}
